// Reads the mails the real SMTP server (aiosmtpd, started by playwright.config.ts) has
// received: a maildir of raw messages.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, type Page } from "@playwright/test";
import { PASSWORD } from "./actions";

export const maildir = () => join(process.env.GATEHOUSE_E2E_DATA_DIR ?? "", "smtp-maildir");

type Received = { to: string; subject: string; body: string };

function received(): Received[] {
  let files: string[];
  try {
    files = readdirSync(join(maildir(), "new"));
  } catch {
    return [];
  }
  return files.map((file) => {
    const raw = readFileSync(join(maildir(), "new", file), "utf8");
    // Quoted-printable: soft line breaks out, `=3D` back to `=`; enough for our links.
    const body = raw.replace(/=\r?\n/g, "").replace(/=3D/g, "=");
    const header = (name: string) =>
      raw.match(new RegExp(`^${name}: (.*)$`, "mi"))?.[1]?.trim() ?? "";
    return { to: header("To"), subject: header("Subject"), body };
  });
}

/** The link of the one mail to `address` about `page`, waiting for it to arrive. */
export async function linkMailedTo(address: string, page: "/reset-password" | "/verify-email") {
  const pattern = new RegExp(`https?://[^\\s"]+${page}\\?token=ml_[A-Za-z0-9_-]{43}`);
  let links: string[] = [];
  await expect
    .poll(
      () => {
        links = received()
          .filter((mail) => mail.to.includes(`<${address}>`))
          .map((mail) => mail.body.match(pattern)?.[0])
          .filter((link): link is string => !!link);
        return links.length;
      },
      { timeout: 15_000, message: `a ${page} mail to ${address}` },
    )
    .toBe(1);
  return links[0];
}

/** The link of the one sign-in code mailed to `address` (it carries the code). */
export async function codeLinkMailedTo(address: string) {
  const pattern = /https?:\/\/[^\s"]+\/login\/email-code\?login=[^\s"&]+&code=\d{8}/;
  let links: string[] = [];
  await expect
    .poll(
      () => {
        links = received()
          .filter((mail) => mail.to.includes(`<${address}>`) && mail.subject.includes("sign-in code"))
          .map((mail) => mail.body.match(pattern)?.[0])
          .filter((link): link is string => !!link);
        return links.length;
      },
      { timeout: 15_000, message: `a sign-in code mailed to ${address}` },
    )
    .toBe(1);
  return links[0];
}

export async function signUpWithEmail(page: Page, username: string, email: string) {
  await page.goto("/signup");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByLabel("Email (optional)").fill(email);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
}

export async function verifyFromMail(page: Page, email: string) {
  await page.goto(await linkMailedTo(email, "/verify-email"));
  await page.getByRole("button", { name: "Confirm my address" }).click();
  await expect(page.getByRole("status")).toHaveText("Your email address is verified.");
}
