import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on stdout with `level` as a word and an ISO time, the shape
 * controller-runtime's zap logger writes. Synchronous, so the last lines
 * before an exit are never lost.
 */
export function createLogger(level = 'info'): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 1, sync: true }),
  );
}
