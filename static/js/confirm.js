// Destructive actions ask first (usabtest/core/confirm.py). Without JavaScript the server answers a
// form marked `data-confirm` with a confirmation page; here the same question, fetched from the
// server, is shown in a dialog instead. Anything unexpected falls back to the page.

const DIALOG_HEADER = "X-Confirm-Dialog";

function nativeSubmit(form, submitter) {
  form.dataset.confirmNative = "1";
  if (submitter) { form.requestSubmit(submitter); } else { form.requestSubmit(); }
}

function closeDialog(dialog, opener) {
  dialog.close();
  dialog.remove();
  if (opener && document.contains(opener)) { opener.focus(); }
}

function showQuestion(html, opener) {
  const dialog = document.createElement("dialog");
  dialog.className = "confirm-dialog";
  dialog.setAttribute("aria-labelledby", "confirm-title");
  dialog.setAttribute("aria-describedby", "confirm-consequences");
  dialog.innerHTML = html;
  document.body.appendChild(dialog);
  const cancel = dialog.querySelector("[data-confirm-cancel]");
  if (cancel) {
    cancel.setAttribute("role", "button");
    cancel.addEventListener("click", (event) => { event.preventDefault(); closeDialog(dialog, opener); });
  }
  dialog.addEventListener("cancel", (event) => { event.preventDefault(); closeDialog(dialog, opener); });
  dialog.showModal();
  // The safe choice has the focus: Enter or Space on a reflex does not destroy anything.
  if (cancel) { cancel.focus(); }
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) { return; }
  const submitter = event.submitter || null;
  // A whole form asks (`<form data-confirm>`), or only one of its buttons (`<button data-confirm>`).
  const asks = form.hasAttribute("data-confirm") || (submitter && submitter.hasAttribute("data-confirm"));
  if (!asks) { return; }
  if (form.dataset.confirmNative === "1") { delete form.dataset.confirmNative; return; }
  event.preventDefault();
  const body = new FormData(form, submitter);
  body.delete("confirmed");
  // getAttribute: `form.action` is shadowed by a field named "action" (the notes board has one).
  const target = submitter && submitter.hasAttribute("formaction")
    ? submitter.getAttribute("formaction") : form.getAttribute("action");
  const action = new URL(target || window.location.href, window.location.href).href;
  let response;
  try {
    response = await fetch(action, {
      method: "POST", body, credentials: "same-origin", headers: { [DIALOG_HEADER]: "1" },
    });
  } catch (error) {
    nativeSubmit(form, submitter);
    return;
  }
  const type = response.headers.get("Content-Type") || "";
  if (response.status !== 200 || response.redirected || !type.startsWith("text/html")) {
    // A refusal or an error page: let the browser show the server's full answer.
    nativeSubmit(form, submitter);
    return;
  }
  showQuestion(await response.text(), submitter || form.querySelector("button"));
});
