// Where things are on the pages.
import type { Page } from "@playwright/test";

export const dashboardHeading = (page: Page) => page.getByRole("heading", { name: /Welcome to your dashboard/ });
export const signedInAs = (page: Page) => page.getByTestId("username");
export const adminLink = (page: Page) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" });
export const loginHeading = (page: Page) => page.getByRole("heading", { name: "Sign in", exact: true });
export const userRow = (page: Page, username: string) => page.locator(`tr[data-user="${username}"]`);
