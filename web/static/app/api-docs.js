// Starts Swagger UI on the API documentation page (/docs). In a file, not inline, so the page's
// Content-Security-Policy can refuse every inline script; its settings come from data attributes.
(function () {
  var root = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: root.getAttribute('data-openapi-url'),
    dom_id: '#swagger-ui',
    oauth2RedirectUrl: window.location.origin + root.getAttribute('data-oauth2-redirect-url'),
    layout: 'BaseLayout',
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // No request to the public validator: the page talks to this service only.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]
  });
})();
