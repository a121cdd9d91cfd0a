// What a repository is called in messages, logs, status and Events: its URL
// without user info and with every credential the operation used blotted
// out, since git errors quote URLs and servers may echo what they were sent.

/** `https://user:pass@host/repo.git` -> `https://host/repo.git`; anything not a URL is returned unchanged. */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/?#@]*@/, '$1');
}

/** The text with URLs stripped of user info and each secret (of 4 characters or more) replaced by `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let clean = text.replace(/([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/?#@\s]*@/g, '$1');
  for (const secret of secrets) {
    if (secret.length >= 4) clean = clean.replaceAll(secret, '***');
  }
  return clean;
}
