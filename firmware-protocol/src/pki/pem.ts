/** PEM with the label RFC 7468 §5 / §6 name (`CERTIFICATE`, `X509 CRL`), 64-column base64. */
export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
