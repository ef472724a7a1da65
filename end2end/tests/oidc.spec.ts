// Gatehouse as the sign-in of another app: a small Node app using panva's openid-client
// (OpenID Certified) sends the browser here; the user signs in with Gatehouse's own pages,
// second step included, allows the app on the consent page and lands back in the app,
// which has validated the ID token and read UserInfo — with and without JavaScript.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { PASSWORD, registerClientWithCli, signOut, signUp, uniqueName, watchForScriptErrors } from "./support/actions";
import { totpCode } from "./support/totp";

/** Starts the relying party for `client`; its base URL and the process. */
async function startRelyingParty(client: { client_id: string; client_secret?: string }, issuer: string): Promise<{ url: string; process: ChildProcess }> {
  const child = spawn(process.execPath, [join(__dirname, "support/relying-party.mjs")], {
    env: { ...process.env, ISSUER: issuer, CLIENT_ID: client.client_id, CLIENT_SECRET: client.client_secret ?? "" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<string>((done, fail) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      const found = /listening (\d+)/.exec(chunk.toString());
      if (found) done(found[1]);
    });
    child.on("exit", (code) => fail(new Error(`the relying party exited (${code})`)));
  });
  return { url: `http://127.0.0.1:${port}`, process: child };
}

async function turnOnTwoStep(page: Page): Promise<string> {
  await page.goto("/account/two-step");
  await page.getByRole("button", { name: "Set up an authenticator app" }).click();
  const secret = (await page.locator("#totp-secret").textContent())!.trim();
  await page.getByLabel("Six-digit code").fill(totpCode(secret));
  await page.getByRole("button", { name: "Turn on two-step sign-in" }).click();
  await expect(page).toHaveURL(/\/account\?two_step=on$/);
  return secret;
}

for (const javaScriptEnabled of [true, false]) {
  test.describe(`JavaScript ${javaScriptEnabled ? "on" : "off"}`, () => {
    test.use({ javaScriptEnabled });

    test("an app using openid-client signs a user in through Gatehouse, second step and consent included", async ({ page, baseURL }) => {
      const problems = watchForScriptErrors(page);
      // The relying party listens on a port it is given: registered by loopback IP, any port
      // matches (RFC 8252), and so does its sign-out address.
      const client = registerClientWithCli("Test app", "http://127.0.0.1/callback", "--post-logout-redirect-uri", "http://127.0.0.1/signed-out");
      const app = await startRelyingParty(client, baseURL!);
      try {
        const username = uniqueName("rp");
        await signUp(page, username);
        const secret = await turnOnTwoStep(page);
        await signOut(page);

        // From the app: to Gatehouse's sign-in, the second step, then the consent page.
        await page.goto(`${app.url}/login`);
        await expect(page).toHaveURL(/\/login\?next=%2Foauth2%2Fauthorize/);
        await page.getByLabel("Username").fill(username);
        await page.getByLabel("Password").fill(PASSWORD);
        await page.getByRole("button", { name: "Sign in", exact: true }).click();
        await expect(page).toHaveURL(/\/login\/code/);
        await page.getByLabel("Code").fill(totpCode(secret, 1));
        await page.getByRole("button", { name: "Continue" }).click();
        await expect(page).toHaveURL(/\/oauth2\/authorize\?/);
        await expect(page.getByRole("heading", { name: "Sign in to Test app?" })).toBeVisible();
        await expect(page.getByText("See your email address")).toBeVisible();
        await page.getByRole("button", { name: "Allow" }).click();

        // Back in the app, which validated the ID token and read UserInfo.
        await expect(page).toHaveURL(`${app.url}/`);
        await expect(page.locator("#who")).toHaveText(`Signed in as ${username}`);
        await expect(page.locator("#amr")).toHaveText('["pwd","otp","mfa"]');
        await expect(page.locator("#acr")).toHaveText("2fa");
        await expect(page.locator("#offline")).toHaveText("can refresh");

        // The app renews its tokens with the refresh token and reads UserInfo again.
        await page.goto(`${app.url}/refresh`);
        await expect(page.locator("#refreshed")).toHaveText(`Renewed for ${username}`);

        // Signed in to Gatehouse and allowed before: the app's next sign-in asks nothing.
        await page.goto(`${app.url}/login`);
        await expect(page).toHaveURL(`${app.url}/`);
        await expect(page.locator("#who")).toHaveText(`Signed in as ${username}`);

        // Taken back on the account page, the app must ask again; denied, it gets an
        // error, not a code.
        await page.goto("/account");
        await expect(page.locator("#account-apps")).toContainText("Test app");
        await page.getByRole("button", { name: "Remove Test app" }).click();
        await expect(page.locator("#account-apps")).toHaveCount(0);
        await page.goto(`${app.url}/login`);
        await expect(page.getByRole("heading", { name: "Sign in to Test app?" })).toBeVisible();
        await page.getByRole("button", { name: "Deny" }).click();
        await expect(page.locator("#error")).toHaveText("access_denied");

        // RP-initiated logout: back in the app, and signed out of Gatehouse too.
        await page.goto(`${app.url}/logout`);
        await expect(page).toHaveURL(`${app.url}/signed-out?state=bye`);
        await expect(page.locator("#who")).toHaveText("Signed out (bye)");
        await page.goto("/dashboard");
        await expect(page).toHaveURL(/\/login\?next=\/dashboard$/);
      } finally {
        app.process.kill();
      }
      expect(problems).toEqual([]);
    });
  });
}

test("a request from an unknown app gets a page saying so, not a redirect", async ({ page }) => {
  const response = await page.goto("/oauth2/authorize?response_type=code&client_id=gc_nobody&redirect_uri=https%3A%2F%2Fevil.example%2F&scope=openid");
  expect(response!.status()).toBe(400);
  await expect(page.getByRole("heading", { name: "This sign-in request cannot go on" })).toBeVisible();
  await expect(page.getByRole("alert")).toContainText("not known here");
});
