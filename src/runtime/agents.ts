// Connections to the API server that outlive one request. client-node's
// applyToHTTPSOptions hands out an https.Agent without keep-alive, so every
// request opened its own TCP and TLS connection and built a new TLS context
// from the CA, certificate and key: a handshake per request, and native
// memory that the allocator keeps (the controller's resident set grew by
// ~100 MiB beyond its heap while it converged). client-go keeps one
// transport per TLS configuration, its connections alive; so does this.
import http from 'node:http';
import https from 'node:https';

/**
 * Free connections are closed after this long: well before the API server closes an idle one (90 s), so that
 * a request seldom goes out on a connection the server is closing.
 */
const IDLE_SOCKET_MS = 30_000;

const kept = new WeakMap<http.Agent, http.Agent>();

/**
 * A keep-alive agent with the TLS options of `agent` (client-node caches one agent per cluster, so there is
 * one of these too). Any other agent (a proxy's) is returned as it is.
 */
export function keepAlive(agent: unknown): unknown {
  const plain = agent instanceof http.Agent && (agent.constructor === https.Agent || agent.constructor === http.Agent);
  if (!plain) return agent;
  let shared = kept.get(agent);
  if (!shared) {
    const { options } = agent as http.Agent & { options: http.AgentOptions };
    const withKeepAlive = { ...options, keepAlive: true, timeout: IDLE_SOCKET_MS };
    shared = agent instanceof https.Agent ? new https.Agent(withKeepAlive) : new http.Agent(withKeepAlive);
    kept.set(agent, shared);
  }
  return shared;
}
