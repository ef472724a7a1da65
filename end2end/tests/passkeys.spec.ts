// Passkeys end to end in Chromium, with its DevTools virtual authenticator standing in for
// a phone or a laptop's screen lock (CTAP2, internal, resident keys, user verification):
// register one on the account page, sign in with it without typing a username, remove it.
// Passkeys need a host name, not an IP address: these pages are opened at localhost,
// which the server's relying party maps its loopback public URL to.
import { type BrowserContext, expect, type Page, test } from "@playwright/test";
import { PASSWORD, createAdminWithCli, signIn, signOut, signUp, uniqueName, watchForScriptErrors } from "./support/actions";
import { totpCode } from "./support/totp";

/** A platform authenticator with resident keys and user verification, always consenting. */
async function addVirtualAuthenticator(context: BrowserContext, page: Page) {
  const devtools = await context.newCDPSession(page);
  await devtools.send("WebAuthn.enable");
  const { authenticatorId } = await devtools.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { devtools, authenticatorId };
}

const port = Number(process.env.E2E_PORT ?? 3100);
test.use({ baseURL: (process.env.BASE_URL ?? `http://127.0.0.1:${port}`).replace("127.0.0.1", "localhost") });

test("a passkey registered on the account page signs in without a username, until it is removed", async ({ page, context }) => {
  const problems = watchForScriptErrors(page);
  const { devtools, authenticatorId } = await addVirtualAuthenticator(context, page);

  const username = uniqueName("passkey");
  await signUp(page, username);
  await page.goto("/account");
  await page.getByRole("link", { name: "Manage your passkeys" }).click();
  await expect(page).toHaveURL(/\/account\/passkeys$/);
  await expect(page.locator("#passkey-list")).toHaveText("No passkeys yet.");
  await page.getByLabel("Name (to tell it apart later)").fill("Test laptop");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page).toHaveURL(/\/account\/passkeys\?added=1$/);
  await expect(page.locator(".passkey-name")).toHaveText(["Test laptop"]);
  await expect(page.locator("#passkey-list")).toContainText("last used never");
  const { credentials } = await devtools.send("WebAuthn.getCredentials", { authenticatorId });
  expect(credentials).toHaveLength(1);
  expect(credentials[0].isResidentCredential).toBe(true);

  // Signed out, the passkey alone signs in — no username — and goes on to `next`.
  await signOut(page);
  await page.goto("/login?next=%2Fsessions");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page).toHaveURL(/\/sessions$/);
  await expect(page.getByRole("button", { name: new RegExp(`Sign out ${username}`) })).toBeVisible();
  await page.goto("/account/passkeys");
  await expect(page.locator("#passkey-list")).not.toContainText("last used never");
  expect(problems).toEqual([]);

  // Removing it needs the password; afterwards the same authenticator is refused.
  await page.getByLabel("Your password, to remove Test laptop").fill(PASSWORD);
  await page.getByRole("button", { name: "Remove" }).click();
  await expect(page).toHaveURL(/\/account\/passkeys\?removed=1$/);
  await expect(page.locator("#passkey-list")).toHaveText("No passkeys yet.");
  await signOut(page);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.locator("[data-passkey-message]")).toHaveText("The passkey was not accepted.");
  await expect(page).toHaveURL(/\/login/);
});

test("on an account with an authenticator app, a passkey can stand in for the code", async ({ page, context }) => {
  const problems = watchForScriptErrors(page);
  await addVirtualAuthenticator(context, page);
  const username = uniqueName("stepup");
  await signUp(page, username);
  await page.goto("/account/passkeys");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.locator(".passkey-name")).toHaveText(["Passkey"]);
  await page.goto("/account/two-step");
  await page.getByRole("button", { name: "Set up an authenticator app" }).click();
  const secret = (await page.locator("#totp-secret").textContent())!.trim();
  await page.getByLabel("Six-digit code").fill(totpCode(secret));
  await page.getByRole("button", { name: "Turn on two-step sign-in" }).click();
  await expect(page).toHaveURL(/\/account\?two_step=on$/);
  await signOut(page);

  await signIn(page, username);
  await expect(page).toHaveURL(/\/login\/code/);
  await page.getByRole("button", { name: "Use a passkey instead" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  expect(problems).toEqual([]);
});

test("a disabled account's passkey is refused, and the refusal is audited", async ({ page, context, request }) => {
  await addVirtualAuthenticator(context, page);
  const username = uniqueName("disabled");
  await signUp(page, username);
  await page.goto("/account/passkeys");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.locator(".passkey-name")).toHaveText(["Passkey"]);
  await signOut(page);

  const root = uniqueName("root");
  createAdminWithCli(root);
  const login = await request.post("/auth/login", { data: { username: root, password: PASSWORD } });
  const admin = { Authorization: `Bearer ${(await login.json()).access_token}` };
  const found = await (await request.get(`/auth/admin/users?search=${username}`, { headers: admin })).json();
  const disabled = await request.patch(`/auth/admin/users/${found.items[0].id}`, { headers: admin, data: { disabled: true } });
  expect(disabled.status()).toBe(200);

  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.locator("[data-passkey-message]")).toHaveText("This account is disabled.");
  await expect(page).toHaveURL(/\/login/);
  const audit = await (await request.get("/auth/admin/audit?kind=login_refused_disabled&per_page=100", { headers: admin })).json();
  const refusals = audit.items.filter((event: { username: string }) => event.username === username);
  expect(refusals).toHaveLength(1);
});

test.describe("JavaScript off", () => {
  test.use({ javaScriptEnabled: false });

  test("the passkey buttons stay hidden and the pages still work", async ({ page }) => {
    await page.goto("/login");
    await expect(page.getByRole("button", { name: "Sign in with a passkey" })).toBeHidden();
    await expect(page.getByRole("button", { name: "Sign in", exact: true })).toBeVisible();
    await page.goto("/account/passkeys");
    await expect(page).toHaveURL(/\/login\?next=/);
  });
});
