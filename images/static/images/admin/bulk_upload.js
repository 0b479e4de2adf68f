// The admin's "Upload images" page (ImageAdmin.bulk_upload_view). Uppy's Dashboard sends each file straight to
// the store by a presigned PUT that the admin signs (the API's signing, in the staff member's session, for the
// owner chosen), then the page completes the upload (the API's verification) and lists the image with its status
// until it is ready. A refused file says why in words (too large, not an image, over the quota); the others go on.
import { AwsS3, Dashboard, Uppy } from 'uppy'

const config = JSON.parse(document.getElementById('bulk-upload-config').textContent)
const csrfToken = document.querySelector('#bulk-upload [name=csrfmiddlewaretoken]').value
const owner = document.getElementById(config.owner)
const list = document.querySelector('#bulk-upload-results tbody')
const summary = document.getElementById('bulk-upload-summary')
const empty = document.getElementById('bulk-upload-empty')

const signed = new Map() // Uppy's file id -> the upload the admin signed for it
const completions = new Map() // Uppy's file id -> its completion (settles, whatever the answer)
const rows = new Map() // Uppy's file id -> its row in the list
const waiting = new Map() // image id -> its row, until the image is ready or failed
const STATUS = { pending: 'Pending: making its variants', ready: 'Ready', failed: 'Failed: its variants could not be made' }
const BUSY_RETRIES = 10
// Completions at once from this page: as many as an API process verifies or waits on at once
// (IMAGE_DIRECT_UPLOAD_CONCURRENCY); more would be answered 503 and wait a second before trying again.
const COMPLETING_AT_ONCE = config.completing
let completing = 0
const queued = []

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000))

/** An error answer in words: its detail, or the first message under a field. */
function reason(answer, response) {
  if (typeof answer?.detail === 'string') return answer.detail
  const messages = Object.values(answer ?? {}).flat().filter((item) => typeof item === 'string')
  return messages[0] ?? `${response.status} ${response.statusText}`
}

/** Call the admin with JSON, in the session, with the CSRF token; wait and retry while it says it is busy (503). */
async function call(url, body) {
  for (let attempt = 1; ; attempt += 1) {
    const response = await fetch(url, {
      method: body === undefined ? 'GET' : 'POST',
      credentials: 'same-origin',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json', 'X-CSRFToken': csrfToken },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const answer = await response.json().catch(() => null)
    if (response.ok) return answer
    const wait = Number(response.headers.get('Retry-After'))
    if (response.status === 503 && wait > 0 && attempt < BUSY_RETRIES) {
      await sleep(wait)
      continue
    }
    throw new Error(reason(answer, response))
  }
}

/** The file's row in the list, made when it is first needed. */
function row(file) {
  let tr = rows.get(file.id)
  if (tr === undefined) {
    tr = document.createElement('tr')
    for (const name of ['preview', 'file', 'owner', 'image', 'status']) {
      const cell = document.createElement('td')
      cell.className = `bulk-upload-${name}`
      tr.append(cell)
    }
    tr.querySelector('.bulk-upload-file').textContent = file.name
    list.append(tr)
    rows.set(file.id, tr)
    empty.hidden = true
  }
  return tr
}

function setStatus(tr, state, text) {
  tr.dataset.state = state
  tr.querySelector('.bulk-upload-status').textContent = text
}

/** Show what the service says of an image: its owner, its admin page, its thumbnail once made, its status. */
function showImage(tr, image) {
  tr.dataset.image = image.id
  tr.querySelector('.bulk-upload-owner').textContent = image.owner
  const link = document.createElement('a')
  link.href = image.admin_url
  link.textContent = `#${image.id} ${image.title || image.original_filename}`
  tr.querySelector('.bulk-upload-image').replaceChildren(link)
  const thumbnail = image.variants.thumbnail
  if (thumbnail && !tr.querySelector('.bulk-upload-preview img')) {
    const img = document.createElement('img')
    img.src = thumbnail.url
    img.alt = ''
    tr.querySelector('.bulk-upload-preview').replaceChildren(img)
  }
  setStatus(tr, image.processing, STATUS[image.processing] ?? image.processing)
  if (image.processing === 'pending') waiting.set(image.id, tr)
  else waiting.delete(image.id)
  showSummary()
}

function showSummary() {
  const states = [...rows.values()].map((tr) => tr.dataset.state)
  const count = (state) => states.filter((found) => found === state).length
  const parts = [[count('ready'), 'ready'], [count('pending'), 'pending'], [count('error'), 'refused']]
  summary.textContent = `(${parts.filter(([n]) => n).map(([n, what]) => `${n} ${what}`).join(', ')})`
}

/** Ask for the images still pending, every second, until each is ready or failed. */
async function pollPending() {
  for (;;) {
    await sleep(1)
    if (waiting.size === 0) continue
    const query = [...waiting.keys()].slice(0, 100).map((id) => `id=${id}`).join('&')
    try {
      for (const image of await call(`${config.images}?${query}`)) showImage(waiting.get(image.id), image)
    } catch {
      // The next round asks again.
    }
  }
}

const uppy = new Uppy({ id: 'bulk-upload' })
  .use(Dashboard, {
    target: '#bulk-upload-dashboard',
    inline: true,
    width: '100%',
    height: 360,
    note: config.note,
    showProgressDetails: true,
    proudlyDisplayPoweredByUppy: false,
  })
  .use(AwsS3, {
    shouldUseMultipart: false, // one PUT per file: the service signs no multipart upload
    limit: 4,
    generateObjectKey: (file) => file.id, // only to find the file again: the admin signs a key of its own
    async signRequest({ method, key }) {
      const file = uppy.getFile(key)
      const tr = row(file)
      setStatus(tr, 'uploading', 'Uploading')
      if (method !== 'PUT') throw new Error(`Only a single PUT is signed here, not ${method}.`)
      try {
        const upload = await call(config.sign, {
          method: 'PUT',
          filename: file.name,
          size: file.size,
          content_type: file.type || 'application/octet-stream',
          owner: owner.value || null,
        })
        signed.set(file.id, upload)
        return { url: upload.url, key: upload.key }
      } catch (error) {
        setStatus(tr, 'error', error.message)
        showSummary()
        throw error
      }
    },
  })

uppy.on('upload-progress', (file, progress) => {
  const tr = rows.get(file.id)
  if (tr?.dataset.state === 'uploading' && progress.bytesTotal) {
    setStatus(tr, 'uploading', `Uploading: ${Math.round((100 * progress.bytesUploaded) / progress.bytesTotal)}%`)
  }
})

uppy.on('upload-error', (file, error) => {
  const tr = rows.get(file.id)
  if (tr && tr.dataset.state !== 'error') {
    setStatus(tr, 'error', error.message)
    showSummary()
  }
})

// The file is in the store: complete it at once (the service verifies it as it verifies any upload). Uppy's
// post-processing step waits for these, so its status bar says "Complete" once every file is verified.
uppy.on('upload-success', (file) => completions.set(file.id, complete(file)))
uppy.addPostProcessor((fileIDs) => Promise.all(fileIDs.map((id) => completions.get(id))))

/** Wait for one of this page's completion slots; `done` gives it back. */
async function slot() {
  if (completing >= COMPLETING_AT_ONCE) await new Promise((resolve) => queued.push(resolve))
  completing += 1
  return () => {
    completing -= 1
    queued.shift()?.()
  }
}

async function complete(file) {
  const tr = row(file)
  setStatus(tr, 'verifying', 'Verifying')
  uppy.emit('postprocess-progress', file, { mode: 'indeterminate', message: 'Verifying…' })
  const done = await slot()
  try {
    const image = await call(config.complete.replace(config.placeholder, signed.get(file.id).id), {})
    uppy.emit('postprocess-complete', file)
    showImage(tr, image)
  } catch (error) {
    // The bytes arrived; the service refused them. The Dashboard marks this file and says why, and the batch
    // goes on (an upload error would mark the whole batch failed, and its Retry would send the same bytes).
    uppy.emit('postprocess-complete', file)
    uppy.setFileState(file.id, { error: error.message })
    uppy.info(`${file.name}: ${error.message}`, 'error', 10_000)
    setStatus(tr, 'error', error.message)
    showSummary()
  } finally {
    done()
  }
}

pollPending()
window.bulkUpload = uppy // for the browser tests, and for a look from the console
