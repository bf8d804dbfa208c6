import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditLog, users } from "../../migrations/schema.ts";
import { getDb } from "../../worker/db/client.ts";
import { call, expectError, expectStatus, freshIp, login, registerUser, uniqueName } from "./helpers.ts";

describe("accounts", () => {
  it("a new user registers, signs in with username or email, and sees themselves at /me", async () => {
    const u = await registerUser("reg");
    const me = await expectStatus(await call("GET", "/api/v1/auth/me", { token: u.accessToken }), 200);
    expect(me.user).toMatchObject({ id: u.id, username: u.username, email: u.email, isAdmin: false, mustChangePassword: false });
    expect(me.user).not.toHaveProperty("passwordHash");

    const byEmail = await expectStatus(await login(u.email.toUpperCase(), u.password), 200);
    expect(byEmail.user.id).toBe(u.id);
    expect(byEmail.tokenType).toBe("Bearer");
    expect(byEmail.expiresIn).toBe(900);
    const byName = await expectStatus(await login(u.username, u.password), 200);
    expect(byName.accessToken).toEqual(expect.any(String));
  });

  it("stores the password only as a salted PBKDF2 hash", async () => {
    const a = await registerUser("hash");
    const [row] = await getDb(env).select().from(users).where(eq(users.id, a.id));
    expect(row?.passwordHash).toMatch(/^pbkdf2-sha256\$100000\$[\w-]{22}\$[\w-]{43}$/);
    expect(row?.passwordHash).not.toContain(a.password);
  });

  it("refuses a taken username or email with 409 and a stable code", async () => {
    const u = await registerUser("dup");
    await expectError(
      await call("POST", "/api/v1/auth/register", {
        body: { username: u.username.toUpperCase(), email: `x${u.email}`, password: "long enough password" },
      }),
      409,
      "USERNAME_TAKEN",
    );
    await expectError(
      await call("POST", "/api/v1/auth/register", {
        body: { username: uniqueName("d"), email: u.email.toUpperCase(), password: "long enough password" },
      }),
      409,
      "EMAIL_TAKEN",
    );
  });

  it("rejects a wrong password with 401 INVALID_CREDENTIALS and records the failure in the audit log", async () => {
    const u = await registerUser("bad");
    await expectError(await login(u.username, "not the password"), 401, "INVALID_CREDENTIALS");
    await expectError(await login(uniqueName("nobody"), "whatever pass"), 401, "INVALID_CREDENTIALS");
    const rows = await getDb(env).select().from(auditLog).where(eq(auditLog.targetId, u.id));
    expect(rows.map((r) => r.action)).toContain("auth.login.failure");
  });

  it("rotates the refresh token on every use; the old one no longer works", async () => {
    const u = await registerUser("rot");
    const first = await expectStatus(await call("POST", "/api/v1/auth/refresh", { body: { refreshToken: u.refreshToken } }), 200);
    expect(first.refreshToken).not.toBe(u.refreshToken);
    const second = await expectStatus(await call("POST", "/api/v1/auth/refresh", { body: { refreshToken: first.refreshToken } }), 200);
    expect(second.accessToken).toEqual(expect.any(String));
    await expectStatus(await call("GET", "/api/v1/auth/me", { token: second.accessToken }), 200);
  });

  it("presenting an already-rotated refresh token revokes the whole family", async () => {
    const u = await registerUser("reuse");
    const rotated = await expectStatus(await call("POST", "/api/v1/auth/refresh", { body: { refreshToken: u.refreshToken } }), 200);
    // An attacker replays the stolen, already-used token.
    await expectError(await call("POST", "/api/v1/auth/refresh", { body: { refreshToken: u.refreshToken } }), 401, "REFRESH_TOKEN_REUSED");
    // The legitimate holder's current token is now dead too.
    await expectError(
      await call("POST", "/api/v1/auth/refresh", { body: { refreshToken: rotated.refreshToken } }),
      401,
      "REFRESH_TOKEN_INVALID",
    );
    const rows = await getDb(env).select().from(auditLog).where(eq(auditLog.targetId, u.id));
    expect(rows.map((r) => r.action)).toContain("auth.refresh.reuse_detected");
  });

  it("logout ends the session's refresh family", async () => {
    const u = await registerUser("out");
    await expectStatus(await call("POST", "/api/v1/auth/logout", { body: { refreshToken: u.refreshToken } }), 204);
    await expectError(await call("POST", "/api/v1/auth/refresh", { body: { refreshToken: u.refreshToken } }), 401, "REFRESH_TOKEN_INVALID");
  });

  it("an access token stops working the moment its session ends, not when it expires (401 SESSION_REVOKED)", async () => {
    // Logout: this session's token is refused, another session of the same user goes on.
    const u = await registerUser("gone");
    const other = await expectStatus(await login(u.username, u.password), 200);
    await expectStatus(await call("GET", "/api/v1/teams", { token: u.accessToken }), 200);
    await expectStatus(await call("POST", "/api/v1/auth/logout", { body: { refreshToken: u.refreshToken } }), 204);
    await expectError(await call("GET", "/api/v1/teams", { token: u.accessToken }), 401, "SESSION_REVOKED");
    await expectStatus(await call("GET", "/api/v1/teams", { token: other.accessToken }), 200);

    // A password change elsewhere ends this session too.
    const changed = await expectStatus(
      await call("POST", "/api/v1/auth/password", {
        token: other.accessToken,
        body: { currentPassword: u.password, newPassword: "a different long password" },
      }),
      200,
    );
    await expectError(await call("GET", "/api/v1/auth/me", { token: other.accessToken }), 401, "SESSION_REVOKED");
    await expectStatus(await call("GET", "/api/v1/auth/me", { token: changed.accessToken }), 200);

    // Refresh-token reuse ends the family, and with it the access token issued under it.
    const rotated = await expectStatus(await call("POST", "/api/v1/auth/refresh", { body: { refreshToken: changed.refreshToken } }), 200);
    await expectError(
      await call("POST", "/api/v1/auth/refresh", { body: { refreshToken: changed.refreshToken } }),
      401,
      "REFRESH_TOKEN_REUSED",
    );
    await expectError(await call("GET", "/api/v1/teams", { token: rotated.accessToken }), 401, "SESSION_REVOKED");
  });

  it("a deactivated user's access token is refused at once, even if the session row was left alone", async () => {
    const u = await registerUser("deact");
    // Directly in the database (no session revocation): the user check alone must refuse it.
    await getDb(env).update(users).set({ isActive: false }).where(eq(users.id, u.id));
    await expectError(await call("GET", "/api/v1/teams", { token: u.accessToken }), 401, "SESSION_REVOKED");
  });

  it("rejects garbage, tampered and missing tokens with 401", async () => {
    const u = await registerUser("tok");
    await expectError(await call("GET", "/api/v1/auth/me"), 401, "UNAUTHENTICATED");
    await expectError(await call("GET", "/api/v1/auth/me", { token: "not.a.jwt" }), 401, "INVALID_TOKEN");
    const [h, p, s] = u.accessToken.split(".");
    const payload = JSON.parse(atob(p!.replace(/-/g, "+").replace(/_/g, "/")));
    payload.adm = true;
    const forged = `${h}.${btoa(JSON.stringify(payload)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")}.${s}`;
    await expectError(await call("GET", "/api/v1/admin/users", { token: forged }), 401, "INVALID_TOKEN");
    await expectError(await call("GET", "/api/v1/auth/me", { headers: { Authorization: "Basic abc" } }), 401, "INVALID_TOKEN");
  });

  it("a password change ends other sessions and returns a fresh one", async () => {
    const u = await registerUser("pw");
    await expectError(
      await call("POST", "/api/v1/auth/password", {
        token: u.accessToken,
        body: { currentPassword: "wrong one!", newPassword: "another long password" },
      }),
      401,
      "INVALID_CREDENTIALS",
    );
    const changed = await expectStatus(
      await call("POST", "/api/v1/auth/password", {
        token: u.accessToken,
        body: { currentPassword: u.password, newPassword: "another long password" },
      }),
      200,
    );
    expect(changed.accessToken).toEqual(expect.any(String));
    await expectError(await call("POST", "/api/v1/auth/refresh", { body: { refreshToken: u.refreshToken } }), 401, "REFRESH_TOKEN_INVALID");
    await expectError(await login(u.username, u.password), 401, "INVALID_CREDENTIALS");
    await expectStatus(await login(u.username, "another long password"), 200);
  });

  it("a user flagged must_change_password gets 403 PASSWORD_CHANGE_REQUIRED until they change it", async () => {
    const u = await registerUser("must");
    await getDb(env).update(users).set({ mustChangePassword: true }).where(eq(users.id, u.id));
    const session = await expectStatus(await login(u.username, u.password), 200);
    expect(session.user.mustChangePassword).toBe(true);
    await expectError(await call("GET", "/api/v1/teams", { token: session.accessToken }), 403, "PASSWORD_CHANGE_REQUIRED");
    await expectError(
      await call("GET", `/api/v1/teams/${"00000000-0000-4000-8000-000000000000"}`, { token: session.accessToken }),
      403,
      "PASSWORD_CHANGE_REQUIRED",
    );
    // Only reading who you are stays possible, so the site can show the change form after a reload.
    const me = await expectStatus(await call("GET", "/api/v1/auth/me", { token: session.accessToken }), 200);
    expect(me.user.mustChangePassword).toBe(true);
    await expectError(
      await call("POST", "/api/v1/teams", { token: session.accessToken, body: { name: "x" } }),
      403,
      "PASSWORD_CHANGE_REQUIRED",
    );
    const changed = await expectStatus(
      await call("POST", "/api/v1/auth/password", {
        token: session.accessToken,
        body: { currentPassword: u.password, newPassword: "a brand new password" },
      }),
      200,
    );
    expect(changed.user.mustChangePassword).toBe(false);
    await expectStatus(await call("GET", "/api/v1/teams", { token: changed.accessToken }), 200);
  });

  it("a deactivated account cannot sign in", async () => {
    const u = await registerUser("off");
    await getDb(env).update(users).set({ isActive: false }).where(eq(users.id, u.id));
    await expectError(await login(u.username, u.password), 403, "ACCOUNT_DISABLED");
  });
});

describe("login rate limits", () => {
  it("limits failed attempts per account with 429 and Retry-After, even from many IPs", async () => {
    const u = await registerUser("lim");
    for (let i = 0; i < 10; i++) await expectError(await login(u.username, "wrong password", freshIp()), 401, "INVALID_CREDENTIALS");
    const limited = await login(u.username, u.password, freshIp());
    expect(limited.headers.get("Retry-After")).toMatch(/^\d+$/);
    await expectError(limited, 429, "RATE_LIMITED");
    const rows = await getDb(env).select().from(auditLog).where(eq(auditLog.action, "auth.login.rate_limited"));
    expect(rows.some((r) => r.actorName === u.username)).toBe(true);
  });

  it("limits attempts per client IP across accounts", async () => {
    const ip = freshIp();
    let limited: Response | undefined;
    for (let i = 0; i < 31; i++) {
      const res = await login(uniqueName("ghost"), "wrong password", ip);
      if (res.status === 429) {
        limited = res;
        break;
      }
      await res.body?.cancel();
    }
    expect(limited?.status).toBe(429);
    expect(Number(limited?.headers.get("Retry-After"))).toBeGreaterThan(0);
    // Another IP is unaffected.
    const u = await registerUser("otherip");
    await expectStatus(await login(u.username, u.password, freshIp()), 200);
  });
});

describe("cookie sessions for the site", () => {
  function cookiesFrom(res: Response): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const [k, v] = pair!.split("=");
      out[k!.trim()] = v ?? "";
    }
    return out;
  }

  it("sets httpOnly Secure SameSite=Strict cookies and demands the CSRF header on writes", async () => {
    const u = await registerUser("cookie");
    const res = await call("POST", "/api/v1/auth/login", {
      body: { login: u.username, password: u.password, mode: "cookie" },
      ip: freshIp(),
    });
    const setCookies = res.headers.getSetCookie();
    const body = await expectStatus(res, 200);
    expect(body.accessToken).toBeUndefined();
    expect(body.refreshToken).toBeUndefined();
    const access = setCookies.find((c) => c.startsWith("atrium_at="));
    expect(access).toMatch(/HttpOnly/i);
    expect(access).toMatch(/Secure/i);
    expect(access).toMatch(/SameSite=Strict/i);
    expect(setCookies.find((c) => c.startsWith("atrium_rt="))).toMatch(/Path=\/api\/v1\/auth/);
    const jar = cookiesFrom(new Response(null, { headers: res.headers }));
    const cookie = `atrium_at=${jar.atrium_at}; atrium_csrf=${jar.atrium_csrf}`;

    await expectStatus(await call("GET", "/api/v1/teams", { headers: { Cookie: cookie } }), 200);
    await expectError(await call("POST", "/api/v1/teams", { headers: { Cookie: cookie }, body: { name: "no csrf" } }), 403, "CSRF_FAILED");
    await expectError(
      await call("POST", "/api/v1/teams", {
        headers: { Cookie: cookie, "X-CSRF-Token": "forged-value-xxxxxxxx" },
        body: { name: "bad csrf" },
      }),
      403,
      "CSRF_FAILED",
    );
    await expectStatus(
      await call("POST", "/api/v1/teams", { headers: { Cookie: cookie, "X-CSRF-Token": jar.atrium_csrf! }, body: { name: "with csrf" } }),
      201,
    );

    // Refresh through the cookie (CSRF-checked), rotating it.
    const refreshCookie = `atrium_rt=${jar.atrium_rt}; atrium_csrf=${jar.atrium_csrf}`;
    await expectError(await call("POST", "/api/v1/auth/refresh", { headers: { Cookie: refreshCookie }, body: {} }), 403, "CSRF_FAILED");
    const refreshed = await call("POST", "/api/v1/auth/refresh", {
      headers: { Cookie: refreshCookie, "X-CSRF-Token": jar.atrium_csrf! },
      body: {},
    });
    const newJar = cookiesFrom(new Response(null, { headers: refreshed.headers }));
    await expectStatus(refreshed, 200);
    expect(newJar.atrium_rt).toBeTruthy();
    expect(newJar.atrium_rt).not.toBe(jar.atrium_rt);
  });

  it("an access cookie of an ended session makes the caller anonymous, so signing in again works", async () => {
    const u = await registerUser("stale");
    const res = await call("POST", "/api/v1/auth/login", {
      body: { login: u.username, password: u.password, mode: "cookie" },
      ip: freshIp(),
    });
    const jar = cookiesFrom(new Response(null, { headers: res.headers }));
    await expectStatus(res, 200);
    const cookie = `atrium_at=${jar.atrium_at}; atrium_csrf=${jar.atrium_csrf}`;
    await expectStatus(await call("GET", "/api/v1/teams", { headers: { Cookie: cookie } }), 200);
    // The session ends elsewhere (a password change in another browser ends them all).
    await expectStatus(
      await call("POST", "/api/v1/auth/password", {
        token: u.accessToken,
        body: { currentPassword: u.password, newPassword: "changed somewhere else" },
      }),
      200,
    );
    await expectError(await call("GET", "/api/v1/teams", { headers: { Cookie: cookie } }), 401, "UNAUTHENTICATED");
    const again = await call("POST", "/api/v1/auth/login", {
      headers: { Cookie: cookie },
      body: { login: u.username, password: "changed somewhere else", mode: "cookie" },
      ip: freshIp(),
    });
    await expectStatus(again, 200);
  });
});
