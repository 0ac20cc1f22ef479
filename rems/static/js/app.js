// Progressive enhancement only: every page works without this file.
// Move keyboard focus to a verdict or an error summary so screen readers announce it.
document.addEventListener("DOMContentLoaded", function () {
  var target = document.querySelector("#verdict, .error-summary");
  if (target) {
    target.focus();
  }
});
