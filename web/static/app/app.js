// Starts the NHS.UK frontend components and sends the CSRF token with every htmx request.
import { initAll } from '../nhsuk/nhsuk-frontend.min.js'

initAll()

const csrf = document.querySelector('meta[name="csrf-token"]')
document.body.addEventListener('htmx:configRequest', (event) => {
  if (csrf) event.detail.headers['X-CSRF-Token'] = csrf.content
})
