import cliProgress from "cli-progress";

/** `1.5 MiB`, `512 B`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** `12,345`. */
export function formatCount(count: number): string {
  return count.toLocaleString("en-US");
}

/** Time left at the average rate so far: `42s`, `3m 05s`, `1h 02m`; `-` before any progress. */
export function timeLeft(elapsedSeconds: number, fraction: number): string {
  if (fraction >= 1) return "0s";
  if (!(fraction > 0)) return "-";
  const left = Math.round((elapsedSeconds * (1 - fraction)) / fraction);
  if (left < 60) return `${left}s`;
  if (left < 3600) return `${Math.floor(left / 60)}m ${String(left % 60).padStart(2, "0")}s`;
  return `${Math.floor(left / 3600)}h ${String(Math.floor((left % 3600) / 60)).padStart(2, "0")}m`;
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** What a job bar needs from a job record. */
export interface JobState {
  status: string;
  percentage: number;
  total_rows: number;
}

/** Progress of one job: a bar on a terminal, a plain line per step elsewhere. */
export interface JobProgress {
  update(job: JobState): void;
  /** Ends the bar (or prints the last line). */
  stop(job: JobState): void;
}

/** Progress of one transfer of bytes (upload, download, checksum). */
export interface ByteProgress {
  add(bytes: number): void;
  /** Starts over (a retried transfer). */
  reset(): void;
  /** Ends the bar (or prints the last line); `ok` false for a transfer that broke off. */
  stop(ok?: boolean): void;
}

export interface ReporterOptions {
  /** Draw bars (stderr is a terminal) rather than plain lines. */
  tty: boolean;
  json: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/** Bars of one run line up whatever their labels. */
const LABEL_WIDTH = 20;

const BAR = {
  barsize: 24,
  barCompleteChar: "\u2588",
  barIncompleteChar: "\u2591",
  hideCursor: true,
  clearOnComplete: false,
  stopOnComplete: false,
  fps: 10,
};

/**
 * Everything the command line shows. Results go to stdout (as JSON with `--json`); steps,
 * bars and errors go to stderr, so that stdout stays machine-readable.
 */
export class Reporter {
  readonly tty: boolean;
  readonly json: boolean;
  private readonly stdout: NodeJS.WritableStream;
  private readonly stderr: NodeJS.WritableStream;

  constructor(options: ReporterOptions) {
    this.tty = options.tty;
    this.json = options.json;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
  }

  /** One line about a step, on stderr. */
  step(line: string): void {
    this.stderr.write(`${line}\n`);
  }

  /** The command's human-readable result (not with `--json`). */
  print(line: string): void {
    if (!this.json) this.stdout.write(`${line}\n`);
  }

  /** The command's machine-readable result (only with `--json`). */
  printJson(value: unknown): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /**
   * A job's progress: percentage, rows (known from the start when `expectedRows` is given,
   * otherwise once the job has finished), rows per second and the time left.
   */
  job(label: string, expectedRows?: number): JobProgress {
    const started = performance.now();
    const rowsOf = (job: JobState) => {
      if (job.status === "finished") return job.total_rows;
      if (expectedRows === undefined) return undefined;
      return Math.round((expectedRows * job.percentage) / 100);
    };
    const payload = (job: JobState) => {
      const rows = rowsOf(job);
      const seconds = Math.max((performance.now() - started) / 1000, 0.001);
      return {
        label: label.padEnd(LABEL_WIDTH),
        status: job.status.padEnd(10),
        left: timeLeft(seconds, job.status === "finished" ? 1 : job.percentage / 100),
        rows: rows === undefined ? "- rows" : `${formatCount(rows)} rows`,
        rate:
          rows === undefined
            ? `${(job.percentage / seconds).toFixed(1)} %/s`
            : `${formatCount(Math.round(rows / seconds))} rows/s`,
      };
    };
    if (this.tty) {
      const bar = new cliProgress.SingleBar({
        ...BAR,
        stream: this.stderr,
        format: `{label} {bar} {percentage}% | {status} | {rows} | {rate} | ETA {left}`,
      });
      bar.start(100, 0, payload({ status: "started", percentage: 0, total_rows: 0 }));
      return {
        update: (job) => bar.update(job.percentage, payload(job)),
        stop: (job) => {
          bar.update(job.status === "finished" ? 100 : job.percentage, payload(job));
          bar.stop();
        },
      };
    }
    // The command has said the job started: the next line is about it moving on.
    let shownStatus = "started";
    let shownQuarter = 0;
    return {
      update: (job) => {
        const quarter = Math.floor(job.percentage / 25);
        if (job.status === shownStatus && quarter <= shownQuarter) return;
        shownStatus = job.status;
        shownQuarter = quarter;
        if (job.status === "finished" || job.status === "failed") return;
        this.step(`${label}: ${job.status} ${job.percentage}%`);
      },
      stop: (job) => {
        const rows = rowsOf(job);
        const took = formatSeconds(performance.now() - started);
        this.step(
          job.status === "finished"
            ? `${label}: finished, ${formatCount(rows ?? job.total_rows)} rows in ${took}`
            : `${label}: ${job.status} after ${took}`,
        );
      },
    };
  }

  /** A transfer of `total` bytes: a bar on a terminal, one line at the end elsewhere. */
  bytes(label: string, total: number, summary: () => string = () => ""): ByteProgress {
    const started = performance.now();
    let done = 0;
    const payload = () => {
      const seconds = Math.max((performance.now() - started) / 1000, 0.001);
      return {
        label: label.padEnd(LABEL_WIDTH),
        done: formatBytes(done),
        size: formatBytes(total),
        rate: `${formatBytes(Math.round(done / seconds))}/s`,
        left: timeLeft(seconds, total === 0 ? 1 : done / total),
      };
    };
    if (this.tty) {
      const bar = new cliProgress.SingleBar({
        ...BAR,
        stream: this.stderr,
        format: `{label} {bar} {percentage}% | {done} of {size} | {rate} | ETA {left}`,
      });
      bar.start(Math.max(total, 1), 0, payload());
      return {
        add: (bytes) => {
          done += bytes;
          bar.update(Math.min(done, Math.max(total, 1)), payload());
        },
        reset: () => {
          done = 0;
          bar.update(0, payload());
        },
        stop: (ok = true) => {
          bar.update(ok && total === 0 ? 1 : Math.min(done, total), payload());
          bar.stop();
        },
      };
    }
    return {
      add: (bytes) => {
        done += bytes;
      },
      reset: () => {
        done = 0;
      },
      stop: (ok = true) => {
        const took = formatSeconds(performance.now() - started);
        const extra = ok ? summary() : "";
        this.step(
          ok
            ? `${label}: ${formatBytes(done)} in ${took}${extra ? ` ${extra}` : ""}`
            : `${label}: broke off after ${formatBytes(done)}`,
        );
      },
    };
  }
}
