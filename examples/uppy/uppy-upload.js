// Uppy 6 sends each image straight to the store by a presigned PUT that the service signs, then completes it.
// `npm install uppy@6` (a bundler, or an import map, resolves 'uppy'); the parts are @uppy/core,
// @uppy/dashboard and @uppy/aws-s3.
import { AwsS3, Dashboard, Uppy } from 'uppy'

/**
 * A Dashboard in `target` that uploads images to the service at `api` (e.g. "https://images.example.com") with
 * the user's access token (`token()`, so a refreshed one is used). `onImage` gets each image the service
 * created, as POST /api/images/upload/ answers it; `onError` gets a file the service refused, and why.
 */
export function imageUploader({ api, token, target, onImage, onError }) {
  async function call(path, body) {
    for (let attempt = 1; ; attempt += 1) {
      const response = await fetch(api + path, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token()}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      })
      const answer = await response.json()
      if (response.ok) return answer
      // 503 with Retry-After: busy completing others, or the store is down. Both calls are safe to repeat.
      const wait = Number(response.headers.get('Retry-After'))
      if (response.status !== 503 || !(wait > 0) || attempt === 5) {
        throw new Error(answer.detail ?? Object.values(answer).flat().join(' '))
      }
      await new Promise((resolve) => setTimeout(resolve, wait * 1000))
    }
  }

  const uploads = new Map() // Uppy's file id -> the service's upload id
  const uppy = new Uppy({ restrictions: { allowedFileTypes: ['image/*'] } })
    .use(Dashboard, { target, inline: true, proudlyDisplayPoweredByUppy: false })
    .use(AwsS3, {
      shouldUseMultipart: false, // one PUT per file: the service signs no multipart upload
      generateObjectKey: (file) => file.id, // Uppy's proposal only finds the file again below
      async signRequest({ key }) {
        const file = uppy.getFile(key)
        const signed = await call('/api/images/uploads/', {
          method: 'PUT',
          filename: file.name,
          size: file.size, // the signature covers this exact size and this type, which Uppy sends
          content_type: file.type,
        })
        uploads.set(file.id, signed.id)
        return { url: signed.url, key: signed.key } // the key the service chose replaces Uppy's
      },
    })

  uppy.on('upload-success', async (file) => {
    try {
      onImage(await call(`/api/images/uploads/${uploads.get(file.id)}/complete/`, {}))
    } catch (error) {
      onError(file, error) // e.g. "Upload a valid image: the file is not a JPEG, PNG, GIF, WebP, HEIC or AVIF image."
    }
  })
  return uppy
}
