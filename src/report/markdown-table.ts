export type Align = 'left' | 'right';

/** A GitHub-flavoured Markdown table; cells are escaped so a `|` or newline cannot break a row. */
export function markdownTable(header: string[], rows: string[][], align: Align[] = []): string {
  const rule = header.map((_, c) => (align[c] === 'right' ? '---:' : '---'));
  const line = (cells: string[]) => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [line(header), `| ${rule.join(' | ')} |`, ...rows.map(line)].join('\n');
}

function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}
