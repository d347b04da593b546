// Runs at the top of <body>: tells the NHS.UK styles that JavaScript is available.
document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' nhsuk-frontend-supported' : '');
