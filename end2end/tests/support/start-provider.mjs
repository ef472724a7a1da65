// Starts one of the provider scripts beside it and sees that it comes up; the API tests
// and Playwright both start their providers through it:
//
//   node start-provider.mjs upstream-provider.mjs   (the script's own variables as usual)
//
// A provider announces itself with an `ISSUER=` line once it listens. Once in many runs
// (twice in fresh-clone CI runs: an API test waited for ever, then Playwright's web
// server timed out; never in 300 starts by hand, six at a time) a node process stalled
// before that: alive, its event loop idle, nothing printed, no socket. So a start that
// has not announced itself within START_WITHIN_SECS is asked for node's diagnostic
// report (printed to stderr: why it stalls is not known yet), killed, and made again,
// three times at most. Its output is passed through as it comes; a script that exits by
// itself ends this one with its exit code.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const TRIES = 3;
const startWithinMs = Number(process.env.START_WITHIN_SECS ?? 20) * 1000;
const name = process.argv[2];
if (!name || name.includes("/")) {
  console.error("usage: node start-provider.mjs <a provider script beside this one>");
  process.exit(2);
}
const script = fileURLToPath(new URL(name, import.meta.url));
const reports = mkdtempSync(join(tmpdir(), "provider-report-"));

let child;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    child?.kill("SIGTERM");
    process.exit(0);
  });
}
process.on("exit", () => rmSync(reports, { recursive: true, force: true }));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// What the stalled process was doing, from its own report: the JavaScript stack, and the
// libuv handles still open (an idle loop is waiting on one of them).
function describeStall(pid) {
  const file = readdirSync(reports).find((entry) => entry.includes(`.${pid}.`));
  if (!file) {
    return "no diagnostic report within 2 s: its main thread was not running its event loop";
  }
  const report = JSON.parse(readFileSync(join(reports, file), "utf8"));
  const stack = report.javascriptStack?.stack?.slice(0, 8).join("\n    ") ?? "";
  const open = (report.libuv ?? [])
    .filter((handle) => handle.is_active)
    .map((handle) => handle.type)
    .join(", ");
  return [
    `JavaScript: ${report.javascriptStack?.message ?? "?"}${stack ? `\n    ${stack}` : ""}`,
    `active libuv handles: ${open || "none"}`,
  ].join("\n  ");
}

// Resolves to "up" once the ISSUER line has passed, "exited" with the code if the script
// ended first, or "stalled".
function startOnce() {
  child = spawn(
    process.execPath,
    ["--report-on-signal", "--report-signal=SIGUSR2", `--report-directory=${reports}`, script],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise((resolve) => {
    let printed = "";
    // Off once the deadline has passed: a line after it belongs to a process about to be killed.
    let forwarding = true;
    const settle = (outcome) => {
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      forwarding = false;
      settle({ outcome: "stalled" });
    }, startWithinMs);
    child.stdout.on("data", (chunk) => {
      if (!forwarding) return;
      process.stdout.write(chunk);
      printed += chunk;
      if (printed.includes("ISSUER=")) settle({ outcome: "up" });
    });
    child.on("exit", (code, signal) => settle({ outcome: "exited", code: code ?? (signal ? 1 : 0) }));
  });
}

for (let attempt = 1; attempt <= TRIES; attempt++) {
  const started = await startOnce();
  if (started.outcome === "up") {
    child.on("exit", (code) => process.exit(code ?? 1));
    break;
  }
  if (started.outcome === "exited") {
    process.exit(started.code);
  }
  child.kill("SIGUSR2");
  await sleep(2000);
  console.error(
    `start-provider: ${name} (pid ${child.pid}) announced nothing within ${startWithinMs / 1000} s, attempt ${attempt} of ${TRIES}\n  ${describeStall(child.pid)}`,
  );
  child.kill("SIGKILL");
  if (attempt === TRIES) {
    process.exit(1);
  }
}
