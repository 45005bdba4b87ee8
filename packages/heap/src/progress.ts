// A one-line progress bar on stderr, only when stderr is a terminal.
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): ((read: number, total: number) => void) & { done(): void } {
  const on = Boolean(stream.isTTY);
  let last = -1;
  const f = ((read: number, total: number) => {
    if (!on) return;
    const pct = total > 0 ? Math.floor((read / total) * 100) : 0;
    if (pct === last) return;
    last = pct;
    const width = 30;
    const fill = Math.round((pct / 100) * width);
    stream.write(`\r${label} [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${String(pct).padStart(3)}%`);
  }) as ((read: number, total: number) => void) & { done(): void };
  f.done = () => {
    if (on && last >= 0) stream.write('\r\x1b[K');
    last = -1;
  };
  return f;
}
