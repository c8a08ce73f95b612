/**
 * Text taken from a file (a tensor's name, a zip entry's, a parser's excerpt), made fit for a one-line
 * error message: control characters are escaped and long text is cut, so a hostile file cannot break
 * or flood the message that names it.
 */
export function printable(text: string, max = 80): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  return cut.replace(
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
