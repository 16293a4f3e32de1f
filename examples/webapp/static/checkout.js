// Defect on purpose: the checkout widget expects a price table the page does not have,
// so this throws an uncaught Error while the page loads.
function initCheckout() {
  const table = document.getElementById("price-table");
  if (table === null) {
    throw new Error("checkout widget failed to start: price table missing");
  }
  table.dataset.ready = "true";
}
initCheckout();
