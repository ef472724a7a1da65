// Signing in with a code sent by email, end to end: ask on the sign-in page, read the
// code from the real SMTP server, type it — with and without JavaScript. A wrong code is
// refused in place, and the code works once (its mailed link, opened afterwards, says so).
import { expect, test } from "@playwright/test";
import { uniqueName } from "./support/actions";
import { codeLinkMailedTo, signUpWithEmail, verifyFromMail } from "./support/mailbox";

for (const javaScriptEnabled of [true, false]) {
  test.describe(`JavaScript ${javaScriptEnabled ? "on" : "off"}`, () => {
    test.use({ javaScriptEnabled });

    test("a code by email signs in once; a wrong one is refused in place", async ({ page, context }) => {
      const username = uniqueName("code");
      const email = `${username}@example.org`;
      await signUpWithEmail(page, username, email);
      await verifyFromMail(page, email);
      await context.clearCookies();

      await page.goto("/login?next=/sessions");
      await page.getByRole("link", { name: "Email me a code instead" }).click();
      await expect(page).toHaveURL(/\/login\/email-code\?next=/);
      await page.getByLabel("Username or email").fill(username);
      await page.getByRole("button", { name: "Email me a code" }).click();
      await expect(page.getByRole("status")).toContainText("a code to sign in is on its way");
      // The name stays typed in for the second form.
      await expect(page.getByLabel("Username or email")).toHaveValue(username);

      const link = await codeLinkMailedTo(email);
      const code = new URL(link).searchParams.get("code") ?? "";
      expect(code).toMatch(/^\d{8}$/);
      await page.getByLabel("Code from the mail").fill(code === "00000000" ? "11111111" : "00000000");
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await expect(page.getByRole("alert")).toContainText("That code is wrong or was already used.");
      await expect(page).not.toHaveURL(/\/sessions$/);

      await page.getByLabel("Code from the mail").fill(`${code.slice(0, 4)} ${code.slice(4)}`);
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await expect(page).toHaveURL(/\/sessions$/);
      await expect(page.getByRole("heading", { name: "Your devices" })).toBeVisible();

      // The mail's link opens the form filled in; the code is spent.
      await context.clearCookies();
      await page.goto(link);
      await expect(page.getByLabel("Username or email")).toHaveValue(username);
      await expect(page.getByLabel("Code from the mail")).toHaveValue(code);
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await expect(page.getByRole("alert")).toContainText("That code is wrong or was already used.");
    });
  });
}
