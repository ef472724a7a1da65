import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { defineConfig, devices } from "@playwright/test";
import { accessTtlSecs } from "./tests/support/settings";

// Debian's Chromium, launched as root on a machine with no outside network: no sandbox,
// and none of the background traffic that would only fail.
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// Not 3000, so a Gatehouse you are running yourself is never the one under test.
const port = Number(process.env.E2E_PORT ?? 3100);
const baseURL = process.env.BASE_URL ?? `http://127.0.0.1:${port}`;

// The release build of the real server (scripts/test builds it first), on a fresh store.
// The config is loaded again in each worker: they inherit the runner's data dir, and
// only the runner removes it.
const workspace = resolve(__dirname, "..");
if (!process.env.GATEHOUSE_E2E_DATA_DIR) {
  const created = mkdtempSync(join(tmpdir(), "gatehouse-e2e-"));
  process.env.GATEHOUSE_E2E_DATA_DIR = created;
  process.on("exit", () => rmSync(created, { recursive: true, force: true }));
}
const dataDir = process.env.GATEHOUSE_E2E_DATA_DIR;
// A real SMTP server on loopback (Debian's aiosmtpd) receives every mail the server sends.
const smtpPort = Number(process.env.E2E_SMTP_PORT ?? 3125);
// Another OpenID provider to sign in through: panva's oidc-provider (providers.spec.ts).
const upstreamPort = Number(process.env.E2E_UPSTREAM_PORT ?? 3190);
const upstreamSecret = "e2e-upstream-secret-e2e-upstream-secret";
const providersFile = join(dataDir, "providers.toml");
writeFileSync(
  providersFile,
  [
    "[[provider]]",
    'id = "upstream"',
    'name = "Upstream SSO"',
    `issuer = "http://127.0.0.1:${upstreamPort}"`,
    'client_id = "gatehouse-e2e"',
    `client_secret = "${upstreamSecret}"`,
    "",
  ].join("\n"),
);

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  // Baselines are taken by this machine's Chromium; a few pixels of antialiasing may move.
  expect: { timeout: 10_000, toHaveScreenshot: { maxDiffPixelRatio: 0.002 } },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: "list",
  outputDir: "test-results",
  use: {
    baseURL,
    trace: "retain-on-failure",
  },
  webServer: process.env.BASE_URL
    ? undefined
    : [
      {
        command: `/usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:${smtpPort} -c aiosmtpd.handlers.Mailbox ${join(dataDir, "smtp-maildir")}`,
        port: smtpPort,
        reuseExistingServer: false,
        timeout: 15_000,
      },
      {
        // Started through start-provider.mjs: a start that stalls is made again (three
        // tries of 20 s) instead of failing the run.
        command: `node ${join(__dirname, "tests/support/start-provider.mjs")} upstream-provider.mjs`,
        port: upstreamPort,
        reuseExistingServer: false,
        timeout: 70_000,
        env: {
          CLIENT_ID: "gatehouse-e2e",
          CLIENT_SECRET: upstreamSecret,
          // The file's provider, and those providers.spec.ts adds from the console.
          REDIRECT_URI: ["upstream", "added-on", "added-off"].map((id) => `${baseURL}/login/with/${id}/callback`).join(" "),
          PORT: String(upstreamPort),
        },
      },
      {
        command: join(workspace, "target/release/gatehouse"),
        cwd: workspace,
        url: `${baseURL}/healthz`,
        reuseExistingServer: false,
        timeout: 30_000,
        stdout: "pipe",
        stderr: "pipe",
        env: {
          GATEHOUSE_LISTEN: `127.0.0.1:${port}`,
          GATEHOUSE_DATA_DIR: dataDir,
          GATEHOUSE_ACCESS_TTL_SECS: String(accessTtlSecs),
          // One client address runs every journey; keep the per-address limits out of the way.
          GATEHOUSE_SIGNUPS_PER_IP: "1000",
          GATEHOUSE_LOGIN_FAILURES_PER_IP: "1000",
          GATEHOUSE_REFRESHES_PER_IP: "100000",
          GATEHOUSE_RECOVERY_REQUESTS_PER_IP: "1000",
          GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
          GATEHOUSE_PUBLIC_URL: baseURL,
          GATEHOUSE_PROVIDERS: providersFile,
          LEPTOS_SITE_ROOT: join(workspace, "target/site"),
          LEPTOS_OUTPUT_NAME: "gatehouse",
          RUST_LOG: process.env.RUST_LOG ?? "warn",
        },
      },
    ],
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: {
          executablePath: chromiumPath,
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
          ],
        },
      },
    },
  ],
});
