/** Linux cpulist strings, as in /sys/devices/system/node/node0/cpulist and Docker's CpusetCpus: "0-3,8-11". */

/** Parses a cpulist into sorted, distinct CPU numbers. Throws on text that is not a cpulist. */
export function parseCpuList(text: string): number[] {
  const cpus = new Set<number>();
  const trimmed = text.trim();
  if (trimmed === "") {
    return [];
  }

  for (const part of trimmed.split(",")) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (match === null) {
      throw new Error(`invalid cpulist "${trimmed}": cannot parse "${part}"`);
    }
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) {
      throw new Error(`invalid cpulist "${trimmed}": range "${part}" is reversed`);
    }
    for (let cpu = first; cpu <= last; cpu += 1) {
      cpus.add(cpu);
    }
  }
  return [...cpus].sort((a, b) => a - b);
}

/** Formats CPU numbers as a compact cpulist: [0, 1, 2, 3, 8] becomes "0-3,8". */
export function formatCpuList(cpus: readonly number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const ranges: string[] = [];
  let index = 0;

  while (index < sorted.length) {
    const first = sorted[index] as number;
    let last = first;
    while (index + 1 < sorted.length && sorted[index + 1] === last + 1) {
      index += 1;
      last += 1;
    }
    ranges.push(first === last ? `${first}` : `${first}-${last}`);
    index += 1;
  }
  return ranges.join(",");
}
