// Starts Swagger UI from a local script so the page needs no inline JavaScript (strict CSP).
window.addEventListener("load", function () {
  // What earlier versions of this page persisted is removed too.
  try {
    window.localStorage.removeItem("authorized");
  } catch (e) {
    // storage disabled: nothing kept either
  }
  var container = document.getElementById("swagger-ui-container");
  window.ui = SwaggerUIBundle({
    url: container.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui-container",
    deepLinking: true,
    // Credentials stay in the page: persisted, a partner's client secret or a staff token would
    // sit in localStorage, readable by any page of the gateway's origin and kept on the disk.
    persistAuthorization: false,
    displayRequestDuration: true,
    tryItOutEnabled: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "BaseLayout"
  });
});
