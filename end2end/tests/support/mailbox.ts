// Reads the mails the real SMTP server (aiosmtpd, started by playwright.config.ts) has
// received: a maildir of raw messages.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "@playwright/test";

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
