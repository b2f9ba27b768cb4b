/** The dashboard's page names where run pages open their event streams, and its CSP lets them. */
import { describe, expect, it } from "vitest";
import { DASHBOARD_CSP, dashboardPage } from "../../functions/api/dashboard.ts";

describe("the dashboard page and the events URL", () => {
  it("without one: streams on the page's own origin, the CSP connecting nowhere else", () => {
    const page = dashboardPage();
    expect(page.headers?.["content-security-policy"]).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("connect-src 'self';");
    expect(page.body).toContain('<meta name="baton-events-url" content="">');
  });

  it("with one (AWS): names it to the page and lets the page connect to its origin only", () => {
    const url = "https://abc123.lambda-url.eu-west-1.on.aws/";
    const page = dashboardPage(url);
    expect(page.body).toContain(`<meta name="baton-events-url" content="${url}">`);
    expect(page.headers?.["content-security-policy"]).toContain(
      "connect-src 'self' https://abc123.lambda-url.eu-west-1.on.aws;",
    );
    // Nothing else of the policy moves.
    expect(
      String(page.headers?.["content-security-policy"]).replace(
        " https://abc123.lambda-url.eu-west-1.on.aws",
        "",
      ),
    ).toBe(DASHBOARD_CSP);
    // A value cannot break out of the attribute.
    expect(dashboardPage('https://x.example/"><script>').body).not.toContain('"><script>');
  });
});
