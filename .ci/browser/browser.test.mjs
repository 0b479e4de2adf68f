// A real browser (Debian's chromium, driven by playwright-core) against the servers .ci/browser/stack.py started:
// the README's Uppy example uploads three images from a page on another origin, on local storage and on
// SeaweedFS; the admin's "Upload images" page uploads ten files, one of them no image. Each waits for the images
// to be `ready` through the API, and screenshots go to the configured folder. Run by stack.py (BROWSER_CONFIG).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { chromium } from 'playwright-core'

const config = JSON.parse(process.env.BROWSER_CONFIG)
const only = process.env.BROWSER_ONLY // a test name's beginning, to run that one (the bench)
let browser
let pageServer

/** The page's origin: the example page, the README's module and Uppy's bundle, nothing else. */
function servePage() {
  const files = {
    '/example.html': [path.join(import.meta.dirname, 'example.html'), 'text/html'],
    '/uppy-upload.js': [config.example, 'text/javascript'],
    '/uppy.min.mjs': [path.join(config.uppy, 'uppy.min.mjs'), 'text/javascript'],
    '/uppy.min.css': [path.join(config.uppy, 'uppy.min.css'), 'text/css'],
  }
  const server = http.createServer((request, response) => {
    const found = files[new URL(request.url, config.page).pathname]
    if (!found) return response.writeHead(404).end()
    response.writeHead(200, { 'Content-Type': found[1] }).end(readFileSync(found[0]))
  })
  return new Promise((resolve) => server.listen(Number(new URL(config.page).port), '127.0.0.1', () => resolve(server)))
}

before(async () => {
  const executablePath = execFileSync('which', ['chromium']).toString().trim()
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] })
  pageServer = await servePage()
})

after(async () => {
  await browser?.close()
  pageServer?.close()
})

async function login(api, email) {
  const response = await fetch(`${api}/api/auth/login/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password: config.stacks[0].password }),
  })
  const answer = await response.text()
  assert.equal(response.status, 200, answer)
  return JSON.parse(answer).access
}

/** The user's images through the API, once there are `count` of them (by default, as many as there are) and all
 * of them are ready (their variants made). */
async function readyImages(api, token, count, seconds = 60) {
  const deadline = Date.now() + seconds * 1000
  for (;;) {
    const response = await fetch(`${api}/api/images/?limit=100`, { headers: { Authorization: `Bearer ${token}` } })
    const images = await response.json()
    if (images.length === (count ?? images.length) && images.every((image) => image.processing === 'ready')) {
      return images
    }
    assert.ok(Date.now() < deadline, `${count} ready images: got ${JSON.stringify(images.map((i) => i.processing))}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

/** A page that may reach this machine only (the admin works offline: Uppy loads nothing from elsewhere). */
async function localPage() {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1050 } })
  const outside = []
  await context.route('**/*', (route) => {
    const { hostname } = new URL(route.request().url())
    if (hostname === '127.0.0.1') return route.continue()
    outside.push(route.request().url())
    return route.abort()
  })
  const page = await context.newPage()
  if (process.env.BROWSER_UPLOAD_MBIT) {
    // A client's link rather than loopback (the bench's screenshots of files on their way): Chromium's own throttle.
    const devtools = await context.newCDPSession(page)
    await devtools.send('Network.enable')
    await devtools.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 20,
      downloadThroughput: -1,
      uploadThroughput: Number(process.env.BROWSER_UPLOAD_MBIT) * 125_000,
    })
  }
  const problems = []
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  const puts = []
  page.on('requestfinished', async (request) => {
    if (request.method() === 'PUT') {
      const response = await request.response()
      puts.push({ origin: new URL(request.url()).origin, status: response.status(), etag: await response.headerValue('etag') })
    }
  })
  return { context, page, outside, problems, puts }
}

function shot(page, name) {
  return page.screenshot({ path: path.join(config.screenshots, `${name}.png`), fullPage: true })
}

function wanted(name) {
  return only === undefined || name.startsWith(only)
}

for (const stack of config.stacks) {
  const name = `the README's Uppy example uploads three images from another origin (${stack.name})`
  test(name, { skip: !wanted(name) }, async () => {
    const token = await login(stack.api, 'user@example.com')
    const { context, page, outside, problems, puts } = await localPage()
    const api = encodeURIComponent(stack.api)
    await page.goto(`${config.page}/example.html#api=${api}&token=${token}`)
    assert.notEqual(new URL(config.page).origin, new URL(stack.api).origin) // CORS for real

    await page.locator('input.uppy-Dashboard-input').first().setInputFiles(config.photos)
    await page.locator('.uppy-StatusBar-actionBtn--upload').click()
    await page.waitForFunction(() => document.querySelectorAll('#images li, #refused li').length === 3, null, {
      timeout: 30_000,
    })

    const images = await readyImages(stack.api, token, 3)
    const names = config.photos.map((file) => path.basename(file)).sort()
    assert.deepEqual(images.map((image) => image.original_filename).sort(), names)
    assert.deepEqual(await page.locator('#refused li').allTextContents(), [])
    // Each file went to the store by PUT, cross-origin, and the page could read the store's ETag.
    assert.equal(puts.length, 3, JSON.stringify(puts))
    for (const sent of puts) {
      assert.equal(sent.origin, new URL(stack.store).origin)
      assert.equal(sent.status, 200)
      assert.match(sent.etag ?? '', /^"[0-9a-f]{32}"$/)
    }
    await page.waitForSelector('.uppy-StatusBar.is-complete')
    await shot(page, `uppy-example-${stack.name}`)
    assert.deepEqual(outside, [])
    assert.deepEqual(problems, [])
    await context.close()
  })

  const admin = `the admin uploads ten files, one of them no image, each straight to the store (${stack.name})`
  test(admin, { skip: !wanted(admin) }, async () => {
    const files = config.bulk
    const invalid = files.filter((file) => path.basename(file).startsWith('broken'))
    const token = await login(stack.api, 'staff@example.com')
    const before = await readyImages(stack.api, token)
    const { context, page, outside, problems, puts } = await localPage()
    await page.goto(`${stack.api}/admin/login/?next=/admin/images/image/upload/`)
    await page.fill('#id_username', 'staff@example.com')
    await page.fill('#id_password', stack.password)
    await page.click('input[type=submit]')
    await page.waitForSelector('#bulk-upload-dashboard .uppy-Dashboard')

    await page.locator('input.uppy-Dashboard-input').first().setInputFiles(files)
    const started = Date.now()
    await page.locator('.uppy-StatusBar-actionBtn--upload').click()
    // Pictures while it runs, taken beside the wait for the end so that they cost the timing nothing: the files on
    // their way (progress per file and in all), then the first images listed ready while the others are verified.
    const pictures = (async () => {
      await page.waitForSelector('.uppy-StatusBar.is-uploading', { timeout: 10_000 }).catch(() => {})
      await page
        .waitForFunction(() => {
          const states = [...document.querySelectorAll('#bulk-upload-results tbody tr')].map((tr) => tr.dataset.state)
          const moving = [...document.querySelectorAll('#bulk-upload-results tr[data-state="uploading"]')]
          return states.some((state) => state !== 'uploading') && moving.some((tr) => /\d%/.test(tr.textContent))
        }, null, { timeout: 5_000, polling: 50 })
        .catch(() => {}) // on loopback the files may all be sent before a look: the picture is taken anyway
      await shot(page, `admin-bulk-upload-${stack.name}-uploading`)
      await page.waitForSelector('#bulk-upload-results tr[data-state="ready"]', { timeout: 60_000 })
      await shot(page, `admin-bulk-upload-${stack.name}-during`)
    })()
    await page.waitForFunction(
      (count) => document.querySelectorAll('#bulk-upload-results tr[data-state="ready"], #bulk-upload-results tr[data-state="error"]').length === count,
      files.length,
      { timeout: 120_000, polling: 50 },
    )
    const seconds = (Date.now() - started) / 1000
    await pictures
    await page.waitForSelector('.uppy-StatusBar.is-complete, .uppy-StatusBar.is-error')

    const rows = await page.locator('#bulk-upload-results tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({
        file: tr.querySelector('.bulk-upload-file').textContent,
        state: tr.dataset.state,
        status: tr.querySelector('.bulk-upload-status').textContent,
        owner: tr.querySelector('.bulk-upload-owner').textContent,
        thumbnail: tr.querySelector('.bulk-upload-preview img')?.naturalWidth ?? 0,
      })),
    )
    const refused = rows.filter((row) => row.state === 'error')
    assert.deepEqual(refused.map((row) => row.file), invalid.map((file) => path.basename(file)))
    for (const row of refused) {
      assert.equal(row.status, 'Upload a valid image: the file is not a JPEG, PNG, GIF, WebP, HEIC or AVIF image.')
    }
    const ready = rows.filter((row) => row.state === 'ready')
    assert.equal(ready.length, files.length - invalid.length)
    assert.ok(ready.every((row) => row.owner === 'staff@example.com' && row.status === 'Ready'), JSON.stringify(ready))
    await page.waitForFunction(
      () => [...document.querySelectorAll('#bulk-upload-results tr[data-state="ready"] img')].every((img) => img.complete && img.naturalWidth > 0),
    )
    const dashboardError = await page.locator('.uppy-Dashboard-Item.is-error').count()
    assert.equal(dashboardError, invalid.length) // the Dashboard marks the refused file too
    // Every file went straight to the store by PUT; the images are ready through the API, in the staff's account.
    assert.equal(puts.length, files.length)
    assert.ok(puts.every((sent) => sent.origin === new URL(stack.store).origin && sent.status === 200), JSON.stringify(puts))
    const images = await readyImages(stack.api, token, before.length + ready.length)
    const added = images.filter((image) => !before.some((earlier) => earlier.id === image.id))
    assert.deepEqual(added.map((image) => image.original_filename).sort(), ready.map((row) => row.file).sort())
    await shot(page, `admin-bulk-upload-${stack.name}-after`)
    assert.deepEqual(outside, [])
    assert.deepEqual(problems, [])
    console.log(`  ${stack.name}: ${files.length} files through the admin in ${seconds.toFixed(1)} s (click to all listed)`)
    if (process.env.BROWSER_TIMINGS) writeFileSync(process.env.BROWSER_TIMINGS, JSON.stringify({ seconds, files: files.length }))
    await context.close()
  })
}
