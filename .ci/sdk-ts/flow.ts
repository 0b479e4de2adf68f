// Issue 11: drive the whole API with openapi-fetch over the types openapi-typescript generated from the served
// schema (api.d.ts, beside this file once .ci/sdk-ts/run has made it). tsc checks every call against the schema;
// at run time each answer must have its declared status and exactly its model's fields.
// Usage: node out/flow.js http://127.0.0.1:PORT photo.jpg
import { readFileSync } from "node:fs";
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./api.js";

type Schemas = components["schemas"];
type Keys<T> = Record<keyof T, true>;

// Each model's fields, checked by the compiler against the generated types (a missing or extra key fails tsc).
const IMAGE = {
  id: true, user: true, image: true, image_url: true, title: true, description: true, uploaded_at: true,
  updated_at: true, width: true, height: true, format: true, mime_type: true, size: true, checksum: true,
  upload_checksum: true, original_filename: true, variants: true, processing: true,
} satisfies Keys<Schemas["Image"]>;
const { user: _user, image_url: _imageUrl, updated_at: _updatedAt, ...IMAGE_UPLOAD } = IMAGE;
IMAGE_UPLOAD satisfies Keys<Schemas["ImageUpload"]>;
const ACCOUNT = {
  id: true, email: true, username: true, date_joined: true, email_verified: true, usage: true,
} satisfies Keys<Schemas["Account"]>;
const TOKENS = { access: true, refresh: true } satisfies Keys<Schemas["TokenPair"]>;
const SIGNUP = { user: true, tokens: true } satisfies Keys<Schemas["SignupResponse"]>;
const HEALTH = {
  status: true, database: true, storage: true, cache: true, broker: true,
} satisfies Keys<Schemas["Health"]>;

let calls = 0;

type Result<D, E> = { data?: D; error?: E; response: Response };

function expect(name: string, response: Response, status: number, body: unknown, fields?: object): void {
  calls += 1;
  if (response.status !== status) {
    throw new Error(`${name}: expected ${status}, got ${response.status}: ${JSON.stringify(body)}`);
  }
  if (fields !== undefined) {
    const [got, want] = [Object.keys(body as object).sort(), Object.keys(fields).sort()];
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      throw new Error(`${name}: fields ${got.join(",")}, declared ${want.join(",")}`);
    }
  }
  console.log(`  ${name}: ${response.status}`);
}

/** A success: the status, and (given `fields`) exactly the model's fields; the data as its declared type. */
function ok<D, E>(name: string, result: Result<D, E>, status: number, fields?: object): NonNullable<D> {
  expect(name, result.response, status, result.data ?? result.error, fields);
  return result.data as NonNullable<D>;
}

/** An error: the status; the body as the error models the operation declares (FieldErrors, Error). */
function failed<D, E>(name: string, result: Result<D, E>, status: number): NonNullable<E> {
  expect(name, result.response, status, result.error ?? result.data);
  return result.error as NonNullable<E>;
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function main(baseUrl: string, photo: string): Promise<void> {
  const started = performance.now();
  const publicApi = createClient<paths>({ baseUrl });
  let access = "";
  const bearer: Middleware = {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${access}`);
      return request;
    },
  };
  const api = createClient<paths>({ baseUrl });
  api.use(bearer);

  const health = ok("health", await publicApi.GET("/api/health/"), 200, HEALTH);
  assert(health.status === "ok", "health is ok");

  const suffix = Math.random().toString(36).slice(2, 10);
  const email = `ts-${suffix}@example.com`;
  const password = "Ts-Password-42";
  const signup = { email, username: `ts${suffix}`, password, password2: password };
  const created = ok("signup", await publicApi.POST("/api/auth/signup/", { body: signup }), 201, SIGNUP);
  assert(created.user.email === email, "signup answers the user");
  const taken = failed("signup again (400)",
    await publicApi.POST("/api/auth/signup/", { body: signup }), 400);
  assert("email" in taken, "the 400 names the email");
  const wrong = failed("login, wrong password (401)",
    await publicApi.POST("/api/auth/login/", { body: { email, password: "not-it" } }), 401);
  assert(wrong.detail, "the 401 has a detail");
  const tokens = ok("login", await publicApi.POST("/api/auth/login/", { body: { email, password } }), 200, TOKENS);
  access = tokens.access;

  const me = ok("me", await api.GET("/api/auth/me/"), 200, ACCOUNT);
  assert(me.email === email, "me is the new user");

  // Upload (multipart): the body goes as FormData, so fetch sets the boundary.
  const bytes = readFileSync(photo);
  const ids: number[] = [];
  for (const n of [1, 2, 3]) {
    const uploaded = ok("upload " + n, await api.POST("/api/images/upload/", {
      body: { image: new Blob([bytes], { type: "image/jpeg" }), title: `Photo ${n}`, description: "From TypeScript" },
      bodySerializer(body) {
        const form = new FormData();
        form.append("image", body.image, `photo-${n}.jpg`);
        for (const key of ["title", "description"] as const) {
          const value = body[key];
          if (value !== undefined) form.append(key, value);
        }
        return form;
      },
    }), 201, IMAGE_UPLOAD);
    assert(uploaded.format === "JPEG" && uploaded.title === `Photo ${n}`, "the upload is recorded");
    ids.push(uploaded.id);
  }

  // List: pages of two, following Link rel="next"; the count in X-Total-Count.
  const seen: number[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await api.GET("/api/images/", { params: { query: { limit: 2, count: true, ...(cursor ? { cursor } : {}) } } });
    const items = ok(`list page ${pages + 1} (?limit=2)`, page, 200);
    items.forEach((item, index) => ok(`  item ${index + 1}`, { data: item, response: page.response }, 200, IMAGE));
    assert(page.response.headers.get("X-Total-Count") === "3", "X-Total-Count is 3");
    seen.push(...items.map((item) => item.id));
    pages += 1;
    const link = page.response.headers.get("Link");
    if (!link) break;
    const next = new URL(link.split(";")[0]!.trim().replace(/^<|>$/g, ""));
    cursor = next.searchParams.get("cursor") ?? undefined;
  }
  assert(pages === 2 && JSON.stringify(seen) === JSON.stringify([...ids].reverse()), `pages ${pages}, ids ${seen}`);
  const badLimit = failed("list, ?limit=0 (400)",
    await api.GET("/api/images/", { params: { query: { limit: 0 } } }), 400);
  assert("limit" in badLimit, "the 400 names limit");

  const id = ids[0]!;
  const image = ok("detail", await api.GET("/api/images/{id}/", { params: { path: { id } } }), 200, IMAGE);
  for (const [name, variant] of Object.entries(image.variants)) {
    assert(variant === null || (variant.url.startsWith("http") && typeof variant.width === "number"), `variant ${name}`);
  }
  const patched = ok("PATCH title", await api.PATCH("/api/images/{id}/", {
    params: { path: { id } }, body: { title: "Renamed" },
  }), 200, IMAGE);
  assert(patched.title === "Renamed" && patched.description === image.description, "PATCH changes the title only");

  ok("delete (the spec's /delete/ path)",
    await api.DELETE("/api/images/{id}/delete/", { params: { path: { id } } }), 204);
  const gone = failed("detail of a deleted image (404)",
    await api.GET("/api/images/{id}/", { params: { path: { id } } }), 404);
  assert(gone.detail, "the 404 has a detail");

  const refreshed = ok("token refresh",
    await publicApi.POST("/api/auth/token/refresh/", { body: { refresh: tokens.refresh } }), 200, TOKENS);
  access = refreshed.access;
  ok("me, refreshed token", await api.GET("/api/auth/me/"), 200, ACCOUNT);
  ok("logout", await publicApi.POST("/api/auth/logout/", { body: { refresh: refreshed.refresh } }), 200, {});
  failed("refresh after logout (401)",
    await publicApi.POST("/api/auth/token/refresh/", { body: { refresh: refreshed.refresh } }), 401);
  access = "not-a-token";
  failed("me, invalid token (401)", await api.GET("/api/auth/me/"), 401);

  console.log(`OK: ${calls} checks, every answer its declared model, in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const [baseUrl, photo] = process.argv.slice(2);
if (!baseUrl || !photo) throw new Error("usage: node flow.js BASE_URL PHOTO");
await main(baseUrl, photo);
