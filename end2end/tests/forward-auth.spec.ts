import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect, type Page, test } from "@playwright/test";
import { PASSWORD, uniqueName } from "./support/actions";
import { loginHeading } from "./support/finders";

// Two apps with no sign-in of their own behind a real nginx (the README's configuration),
// with a Gatehouse of their own whose sign-in covers every *.gatehouse.localhost host
// (Chromium resolves them all to loopback): one sign-in opens both, one sign-out closes both.

const workspace = resolve(__dirname, "../..");
const domain = "gatehouse.localhost";

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createNetServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
}

function readmeBlocks(language: string, count: number): string[] {
  const readme = readFileSync(join(workspace, "README.md"), "utf8");
  const section = readme.split("\n## Put Gatehouse in front of an app\n")[1].split("\n## ")[0];
  const blocks = section.split("```" + language + "\n").slice(1).map((rest) => rest.split("```")[0]);
  expect(blocks).toHaveLength(count);
  return blocks;
}

async function waitFor(url: string) {
  for (let tries = 0; tries < 150; tries++) {
    try {
      await fetch(url, { redirect: "manual" });
      return;
    } catch {
      await new Promise((wait) => setTimeout(wait, 100));
    }
  }
  throw new Error(`${url} never answered`);
}

let dir: string;
let gatehouse: ChildProcess;
let nginx: ChildProcess;
let app: Server;
let gatehousePort: number;
let proxyPort: number;

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gatehouse-forward-"));
  [gatehousePort, proxyPort] = [await freePort(), await freePort()];
  gatehouse = spawn(join(workspace, "target/release/gatehouse"), [], {
    cwd: workspace,
    stdio: "ignore",
    env: {
      ...process.env,
      GATEHOUSE_LISTEN: `127.0.0.1:${gatehousePort}`,
      GATEHOUSE_DATA_DIR: join(dir, "data"),
      GATEHOUSE_PUBLIC_URL: `http://auth.${domain}:${gatehousePort}`,
      GATEHOUSE_PASSKEY_ORIGIN: `http://localhost:${gatehousePort}`,
      GATEHOUSE_COOKIE_DOMAIN: domain,
      GATEHOUSE_FORWARD_AUTH_DEFAULT: "signed_in",
      LEPTOS_SITE_ROOT: join(workspace, "target/site"),
      LEPTOS_OUTPUT_NAME: "gatehouse",
      RUST_LOG: "warn",
    },
  });
  // The app behind the proxy greets whoever the proxy says it is.
  app = createServer((request, response) => {
    const user = request.headers["remote-user"] ?? "nobody";
    response.setHeader("content-type", "text/html");
    response.end(`<!doctype html><title>An app</title><h1>Hello ${user}</h1>`);
  });
  await new Promise<void>((done) => app.listen(0, "127.0.0.1", done));
  const appPort = (app.address() as AddressInfo).port;
  // The first block goes into `http { }`, the second into the app's `server { }`.
  const [upstream, appLocations] = readmeBlocks("nginx", 2);
  const gatehouseUpstream = upstream.replaceAll("127.0.0.1:3000", `127.0.0.1:${gatehousePort}`);
  const locations = appLocations.replaceAll("http://127.0.0.1:8080", `http://127.0.0.1:${appPort}`);
  writeFileSync(
    join(dir, "nginx.conf"),
    `daemon off; master_process off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
${gatehouseUpstream}
  server {
    listen 127.0.0.1:${proxyPort};
    server_name app1.${domain} app2.${domain};
${locations}
  }
}
`,
  );
  nginx = spawn("nginx", ["-c", join(dir, "nginx.conf"), "-p", dir, "-e", join(dir, "error.log")], { stdio: "ignore" });
  await waitFor(`http://127.0.0.1:${gatehousePort}/healthz`);
  await waitFor(`http://127.0.0.1:${proxyPort}/`);
});

test.afterAll(async () => {
  nginx?.kill();
  gatehouse?.kill();
  app?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function oneSignInOpensEveryApp(page: Page) {
  const name = uniqueName("gate");
  const signup = await fetch(`http://127.0.0.1:${gatehousePort}/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: name, password: PASSWORD }),
  });
  expect(signup.status).toBe(201);
  const app1 = `http://app1.${domain}:${proxyPort}/wiki/page?x=1`;
  const app2 = `http://app2.${domain}:${proxyPort}/`;

  // Signed out: the proxy sends the browser to Gatehouse, which brings it back.
  await page.goto(app1);
  await expect(loginHeading(page)).toBeVisible();
  expect(new URL(page.url()).host).toBe(`auth.${domain}:${gatehousePort}`);
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(app1);
  await expect(page.getByRole("heading")).toHaveText(`Hello ${name}`);

  // The other app: already signed in.
  await page.goto(app2);
  await expect(page).toHaveURL(app2);
  await expect(page.getByRole("heading")).toHaveText(`Hello ${name}`);

  // Sign out from an app: Gatehouse asks, ends the session and links back to the app,
  // which now sends the browser to sign in; so does the other one.
  await page.goto(`http://auth.${domain}:${gatehousePort}/logout?rd=${encodeURIComponent(app2)}`);
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await expect(page.getByRole("status")).toHaveText("You are signed out.");
  await page.getByRole("link", { name: "Back to the app" }).click();
  await expect(loginHeading(page)).toBeVisible();
  expect(new URL(page.url()).searchParams.get("rd")).toBe(app2);
  await page.goto(app1);
  await expect(loginHeading(page)).toBeVisible();
}

test("one sign-in opens every app behind the gate, and one sign-out closes them all", async ({ page }) => {
  await oneSignInOpensEveryApp(page);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });
  test("one sign-in opens every app behind the gate, and one sign-out closes them all", async ({ page }) => {
    await oneSignInOpensEveryApp(page);
  });
});
