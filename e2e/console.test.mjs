// End-to-end tests of the scimd admin console in a real headless browser: Debian's Chromium
// driven by playwright-core, against the real scimd binary on a fresh SQLite database.
//
//   SCIMD_BIN=/path/to/scimd node --test console.test.mjs
//
// Screenshots of each page are written to ../docs/screenshots (or $SCREENSHOT_DIR).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { createServer } from "node:net";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const shots = resolve(process.env.SCREENSHOT_DIR || join(here, "..", "docs", "screenshots"));
const bin = process.env.SCIMD_BIN || join(here, "..", "target", "debug", "scimd");
const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

let server, base, adminKey, browser, context, page, dataDir, attacker, attackerBase;

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

async function startScimd() {
  dataDir = mkdtempSync(join(tmpdir(), "scimd-e2e-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(bin, ["serve"], {
    env: {
      PATH: process.env.PATH,
      SCIMD_DATABASE_URL: `sqlite://${join(dataDir, "scimd.db")}?mode=rwc`,
      SCIMD_LISTEN: `127.0.0.1:${port}`,
      SCIMD_LOG: "warn",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  server.stdout.on("data", (d) => { out += d.toString(); });
  for (let i = 0; i < 200; i++) {
    const m = out.match(/Admin key[^\n]*\n\s*(scimd_api_\S+)/);
    if (m) {
      adminKey = m[1];
      try {
        const r = await fetch(`${base}/healthz`);
        if (r.ok) return;
      } catch { /* not listening yet */ }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("scimd did not start (or printed no bootstrap admin key)");
}

async function scim(token, method = "GET", path = "/scim/v2/Users", body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/scim+json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  return r.status;
}

async function shot(name, options = {}) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true, ...options });
}

/** Opens the create dialog, fills it with `fill`, creates; returns the secret after Copy. */
async function createKey(name, scope, fill = async () => {}, screenshot) {
  await page.goto(`${base}/console/keys`);
  await page.getByRole("link", { name: /Create a key|Créer une clé/ }).click();
  const dialog = page.locator("dialog#console-dialog[open]");
  await dialog.waitFor();
  await dialog.getByLabel(/^Name$|^Nom$/).fill(name);
  await dialog.locator("select[name=scope]").selectOption(scope);
  await fill(dialog);
  if (screenshot) await shot(screenshot);
  await dialog.getByRole("button", { name: /^Create$|^Créer$/ }).click();
  await page.locator("#secret").waitFor();
  const shown = await page.locator("#secret").inputValue();
  await page.getByRole("button", { name: /Copy|Copier/ }).click();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(copied, shown, "the Copy button puts the secret on the clipboard");
  return copied;
}

async function setActive(name, on) {
  await page.goto(`${base}/console/keys/${name}`);
  const box = page.locator("#e-active");
  if ((await box.isChecked()) !== on) await page.locator("label[for=e-active]").click();
  await page.locator("#edit").getByRole("button", { name: /Save|Enregistrer/ }).click();
  await page.waitForURL(/done=saved/);
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  assert.ok(existsSync(bin), `no scimd binary at ${bin}`);
  await startScimd();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    locale: "en-US",
    permissions: ["clipboard-read", "clipboard-write"],
  });
  page = await context.newPage();
  // A page of another origin (same site, another port) that posts a form to the console.
  attacker = http.createServer((req, res) => {
    res.setHeader("Content-Type", "text/html");
    res.end(`<!doctype html><form id=f method=post action="${base}/console/keys">
      <input name=name value=forged><input name=scope value=scim></form>
      <script>document.getElementById('f').submit()</script>`);
  });
  await new Promise((ok) => attacker.listen(0, "127.0.0.1", ok));
  attackerBase = `http://127.0.0.1:${attacker.address().port}`;
});

after(async () => {
  await browser?.close();
  attacker?.close();
  server?.kill("SIGTERM");
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test("sign in with the bootstrap admin key", async () => {
  await page.goto(`${base}/console/`);
  await page.waitForURL(/\/console\/login/);
  await page.getByLabel(/Admin key or operator token/).fill(adminKey);
  await shot("login", { mask: [page.locator("#key")] });
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/console\/keys$/);
  assert.equal(await page.locator("h1").textContent(), "API keys");
  const csp = (await page.request.get(`${base}/console/keys`)).headers()["content-security-policy"];
  assert.match(csp, /script-src 'self'/);
});

let scimKey;
test("SCIM key: create and copy, use, disable (401), re-enable (200)", async () => {
  scimKey = await createKey("entra-prod", "scim", async (d) => {
    await d.getByLabel(/^Label$/).fill("Entra ID production");
    assert.ok(await d.locator("fieldset[data-scope=on_premise]").isHidden(), "only SCIM options");
  }, "create-dialog");
  assert.match(scimKey, /^scimd_scim_/);
  await shot("secret-once", { mask: [page.locator("#secret")] });
  assert.equal(await scim(scimKey), 200);
  await setActive("entra-prod", false);
  assert.equal(await scim(scimKey), 401);
  await setActive("entra-prod", true);
  assert.equal(await scim(scimKey), 200);
  await shot("key-detail");
});

test("rotate with a grace period: old and new values both work", async () => {
  await page.goto(`${base}/console/keys/entra-prod`);
  await page.getByRole("link", { name: "Rotate" }).click();
  const dialog = page.locator("dialog#console-dialog[open]");
  await dialog.waitFor();
  await dialog.getByLabel("Grace period for the old value").selectOption("60");
  await dialog.getByRole("button", { name: "Rotate" }).click();
  await page.locator("#secret").waitFor();
  const fresh = await page.locator("#secret").inputValue();
  assert.notEqual(fresh, scimKey);
  assert.equal(await scim(fresh), 200, "new value");
  assert.equal(await scim(scimKey), 200, "old value during the grace period");
  scimKey = fresh;
});

test("Entra ID set-up card: its values get an OAuth token that works on SCIM", async () => {
  await page.goto(`${base}/console/keys/entra-prod`);
  const card = page.locator("#entra-setup");
  await card.waitFor();
  const clientId = (await page.locator("#client-id").textContent()).trim();
  const endpoint = (await page.locator("#entra-token-endpoint").textContent()).trim();
  assert.equal(endpoint, `${base}/oauth2/default/token`);
  await card.screenshot({ path: join(shots, "entra-setup.png") });
  // What Entra ID does with them: client credentials (Basic), then the token as Bearer.
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(scimKey)}`).toString("base64");
  const r = await fetch(endpoint, {
    method: "POST",
    headers: { Authorization: `Basic ${basic}`, "Content-Type": "application/x-www-form-urlencoded" },
    body: "grant_type=client_credentials",
  });
  assert.equal(r.status, 200);
  const { access_token: accessToken, token_type: tokenType } = await r.json();
  assert.equal(tokenType, "Bearer");
  assert.equal(await scim(accessToken), 200);
  // Workload identity federation: the values Entra shows, saved on the key's card.
  const tenantGuid = "11111111-2222-3333-4444-555555555555";
  await page.locator("#f-issuer").fill(`https://login.microsoftonline.com/${tenantGuid}/v2.0`);
  await page.locator("#f-jwks").fill(`https://login.microsoftonline.com/${tenantGuid}/discovery/v2.0/keys`);
  await page.locator("#f-subject").fill("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
  await page.locator("#f-audiences").fill("api://5f1c2a3b-0000-4000-8000-000000000000/.default");
  await page.locator("#federation-form").getByRole("button", { name: "Save the credential" }).click();
  await page.waitForURL(/done=federation-saved/);
  const federation = page.locator("#federation");
  assert.match(await federation.textContent(), /api:\/\/5f1c2a3b-0000-4000-8000-000000000000\/\.default/);
  await federation.screenshot({ path: join(shots, "federation.png") });
  await federation.getByRole("button", { name: "Remove the credential" }).click();
  await page.waitForURL(/done=federation-removed/);
  // The French card.
  await page.goto(`${base}/console/lang?l=fr&next=/console/keys/entra-prod`);
  assert.match(await page.locator("#entra-title").textContent(), /Configuration dans Entra ID/);
  await page.goto(`${base}/console/lang?l=en&next=/console/keys/entra-prod`);
});

test("On Premise key: retrieve only", async () => {
  const key = await createKey("ad-sync", "on_premise", async (d) => {
    await d.locator("label[for=k-push]").click();
  });
  assert.match(key, /^scimd_onprem_/);
  assert.equal(await scim(key), 200, "retrieve");
  assert.equal(await scim(key, "POST", "/scim/v2/Users", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "x@y.z" }), 403, "no push");
});

test("Public API key: chosen permissions only", async () => {
  const key = await createKey("automation", "public_api", async (d) => {
    await d.locator("label[for=k-perm-tenant_apiKey_read]").click();
  });
  assert.match(key, /^scimd_api_/);
  const r = await fetch(`${base}/api/default/admin/apiKeys`, { headers: { Authorization: `Bearer ${key}` } });
  assert.equal(r.status, 200);
  const m = await fetch(`${base}/api/default/admin/machines`, { headers: { Authorization: `Bearer ${key}` } });
  assert.equal(m.status, 403);
});

test("custom-attributes switch flipped on one SCIM key shows on another", async () => {
  await createKey("okta", "scim");
  await page.goto(`${base}/console/keys/okta`);
  assert.equal(await page.locator("#e-custom").isChecked(), false);
  await page.locator("label[for=e-custom]").click();
  await page.locator("#edit").getByRole("button", { name: "Save" }).click();
  await page.waitForURL(/done=saved/);
  await page.goto(`${base}/console/keys/entra-prod`);
  assert.equal(await page.locator("#e-custom").isChecked(), true, "tenant-wide switch");
});

test("revoke: confirmation dialog, 401, no enable offered", async () => {
  await page.goto(`${base}/console/keys/entra-prod`);
  await page.getByRole("link", { name: "Revoke" }).click();
  const dialog = page.locator("dialog#console-dialog[open]");
  await dialog.waitFor();
  await shot("revoke-dialog");
  await dialog.getByRole("button", { name: "Revoke permanently" }).click();
  await page.waitForURL(/done=revoked/);
  assert.equal(await scim(scimKey), 401);
  assert.equal(await page.locator("#e-active").count(), 0, "no Active switch");
  assert.equal(await page.getByRole("link", { name: "Rotate" }).count(), 0);
  await page.goto(`${base}/console/keys`);
  await shot("keys");
  await page.goto(`${base}/console/keys?status=revoked`);
  assert.equal(await page.locator("tbody tr").count(), 1);
});

test("machines: create, empty Keys card", async () => {
  await page.goto(`${base}/console/machines`);
  await page.getByRole("link", { name: "Create a machine" }).click();
  const dialog = page.locator("dialog#console-dialog[open]");
  await dialog.waitFor();
  await dialog.getByLabel("Name").fill("paris-dc1");
  await dialog.getByLabel("Description").fill("Domain controller, Paris");
  await dialog.getByRole("button", { name: "Create" }).click();
  await page.waitForURL(/\/console\/machines\/[0-9a-f-]+$/);
  await page.getByText("No API key is associated with this machine").waitFor();
  await shot("machine");
  await page.goto(`${base}/console/machines`);
  await shot("machines");
});

test("settings and audit pages", async () => {
  await page.goto(`${base}/console/settings`);
  await page.getByLabel("Name").fill("badgeNumber");
  await page.getByRole("button", { name: "Add" }).click();
  await page.waitForURL(/done=saved/);
  await page.getByText("badgeNumber").first().waitFor();
  await shot("settings");
  await page.goto(`${base}/console/audit`);
  await page.getByText("apiKey.revoke").first().waitFor();
  await shot("audit");
});

test("directory: find a user the identity provider sent, its group, the group's members", async () => {
  const created = await fetch(`${base}/api/default/admin/apiKeys`, {
    method: "POST",
    headers: { Authorization: `Bearer ${adminKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "directory-feed", scope: "scim" }),
  });
  assert.equal(created.status, 201);
  const token = (await created.json()).token;
  const post = async (path, body) => {
    const r = await fetch(`${base}/scim/v2${path}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/scim+json" },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    assert.equal(r.status, 201, text);
    return JSON.parse(text).id;
  };
  const grace = await post("/Users", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName: "grace@example.com", displayName: "Grace Hopper", externalId: "ghopper",
  });
  await post("/Users", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "alan@example.com" });
  await post("/Groups", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    displayName: "Pioneers", members: [{ value: grace }],
  });
  await page.goto(`${base}/console/keys`);
  await page.getByRole("link", { name: "Users" }).click();
  await page.waitForURL(/\/console\/users$/);
  await page.getByLabel(/userName or displayName contains/).fill("hopper");
  await page.getByRole("button", { name: "Search" }).click();
  await page.waitForURL(/q=hopper/);
  await page.getByText("1 found").waitFor();
  assert.equal(await page.getByRole("link", { name: "alan@example.com" }).count(), 0);
  await shot("directory-users");
  await page.getByRole("link", { name: "grace@example.com" }).click();
  await page.getByText("ghopper").first().waitFor();
  await page.getByRole("link", { name: "Pioneers" }).click();
  await page.getByRole("heading", { name: "Members (1)" }).waitFor();
  await shot("directory-group");
  await page.getByRole("link", { name: "grace@example.com" }).click();
  assert.equal(await page.locator("h1").textContent(), "grace@example.com");
});

test("provisioning activity: the connection's card, a failure's hint, the record, a user's history", async () => {
  // The directory feed of the test above sends a duplicate userName: a 409 the admin must see.
  const created = await fetch(`${base}/api/default/admin/apiKeys`, {
    method: "POST",
    headers: { Authorization: `Bearer ${adminKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "activity-feed", scope: "scim" }),
  });
  assert.equal(created.status, 201);
  const token = (await created.json()).token;
  for (const userName of ["ada@example.com", "ADA@example.com"]) {
    await fetch(`${base}/scim/v2/Users`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/scim+json", "User-Agent": "Azure AD SCIM Client" },
      body: JSON.stringify({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName }),
    });
  }
  await page.goto(`${base}/console/keys`);
  await page.getByRole("link", { name: "Activity", exact: true }).click();
  await page.waitForURL(/\/console\/activity$/);
  const card = page.locator('section.connection[data-actor="activity-feed"]');
  // The card shows as soon as the key exists (a key never used is listed too); its failure only
  // once the records are written, a flush period after the requests: reload until then.
  for (let i = 0; i < 50 && (await card.getByText("Last failure").count()) === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    await page.reload();
  }
  await card.getByText("Last failure").waitFor();
  await card.getByText(/Another user or group already has this value/).waitFor();
  await shot("activity");
  await page.getByRole("link", { name: /409 · create userName=ADA@example.com/ }).click();
  await page.getByRole("heading", { name: "What this means and what to do" }).waitFor();
  await page.getByText("entra").first().waitFor();
  await shot("activity-record");
  await page.goto(`${base}/console/activity?status=4xx`);
  assert.ok((await page.locator("tr[data-status='409']").count()) >= 1);
  assert.equal(await page.locator("tr[data-status='201']").count(), 0);
});

test("French UI through the switcher", async () => {
  await page.goto(`${base}/console/machines`);
  await page.getByRole("link", { name: "Français" }).click();
  await page.waitForURL(/\/console\/machines$/);
  assert.equal(await page.locator("h1").textContent(), "Machines");
  assert.equal(await page.locator("html").getAttribute("lang"), "fr");
  await page.getByRole("link", { name: "paris-dc1" }).click();
  await page.getByText("Aucune clé API n'est associée à cette machine").waitFor();
  await page.goto(`${base}/console/keys`);
  assert.equal(await page.locator("h1").textContent(), "Clés d'API");
  await shot("keys-fr");
  await page.getByRole("link", { name: "English" }).click();
});

test("a forged form post is rejected", async () => {
  // Posted from another page by the attacker's form: the session cookie goes along (same
  // site), the form token cannot.
  const response = page.waitForResponse((r) => r.url() === `${base}/console/keys` && r.request().method() === "POST");
  await page.goto(attackerBase);
  assert.equal((await response).status(), 403);
  await page.getByText(/not sent by this console/).waitFor();
  // A script on a console page without the token fares no better.
  await page.goto(`${base}/console/keys`);
  const status = await page.evaluate(async () => (await fetch("/console/keys", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "name=forged2&scope=scim",
  })).status);
  assert.equal(status, 403);
  const keys = await (await fetch(`${base}/api/default/admin/apiKeys`, { headers: { Authorization: `Bearer ${adminKey}` } })).json();
  assert.ok(!keys.some((k) => k.name.startsWith("forged")), "no forged key exists");
});

test("sign out ends the session", async () => {
  await page.goto(`${base}/console/keys`);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/console\/login/);
  await page.goto(`${base}/console/keys`);
  await page.waitForURL(/\/console\/login/);
});
