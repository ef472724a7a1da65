/** The e2e server's access-token lifetime, in seconds: short, so that every journey lives
 * through several silent renewals. */
export const accessTtlSecs = 6;
