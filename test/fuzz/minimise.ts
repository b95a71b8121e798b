// Shrinks a failing text input: drops lines (halves first, then one at a time), then characters
// of the lines left, for as long as `fails` still says the same thing. Pure but for `fails`.
export function minimiseLines(text: string, fails: (text: string) => boolean, budget = 2000): string {
  let lines = text.split('\n');
  let tries = 0;
  const still = (candidate: readonly string[]): boolean => ++tries <= budget && fails(candidate.join('\n'));
  for (let size = Math.max(1, lines.length >> 1); size >= 1; size >>= 1) {
    for (let at = 0; at + size <= lines.length; ) {
      const candidate = [...lines.slice(0, at), ...lines.slice(at + size)];
      if (still(candidate)) lines = candidate;
      else at += size;
    }
  }
  for (let i = 0; i < lines.length; i++) {
    for (let cut = (lines[i] ?? '').length - 1; cut >= 0; cut--) {
      const line = lines[i] ?? '';
      const candidate = [...lines.slice(0, i), line.slice(0, cut) + line.slice(cut + 1), ...lines.slice(i + 1)];
      if (still(candidate)) lines = candidate;
    }
  }
  return lines.join('\n');
}
