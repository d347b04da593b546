// Starts the NHS.UK frontend components, sends the CSRF token with every htmx request,
// and tells a person plainly when an autosave could not reach the service.
import { initAll } from '../nhsuk/nhsuk-frontend.min.js'

initAll()

const csrf = document.querySelector('meta[name="csrf-token"]')
document.body.addEventListener('htmx:configRequest', (event) => {
  if (csrf) event.detail.headers['X-CSRF-Token'] = csrf.content
})

function showSaveFailure (event) {
  const target = event.detail.target
  if (!target || !target.classList.contains('app-autosave-status')) return
  // Keep the hidden version input; replace only the message. The answer stays on screen.
  target.querySelectorAll('p').forEach((p) => p.remove())
  const message = document.createElement('p')
  message.className = 'nhsuk-error-message app-autosave app-autosave--error'
  message.textContent = 'Not saved: the service could not be reached. Check your connection, then change the answer again or press "Save and continue".'
  target.appendChild(message)
}

document.body.addEventListener('htmx:sendError', showSaveFailure)
document.body.addEventListener('htmx:responseError', showSaveFailure)
