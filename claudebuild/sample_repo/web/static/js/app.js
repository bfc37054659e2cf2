import { createOrder, getProducts, searchProducts } from "./api.js";

const cart = new Map();

function formatPrice(cents) {
  return (cents / 100).toLocaleString("en-US", { style: "currency", currency: "USD" });
}

function renderProducts(products) {
  const list = document.querySelector("#products");
  list.replaceChildren();
  for (const product of products) {
    const item = document.createElement("li");
    item.textContent = `${product.name} - ${formatPrice(product.price_cents)}`;
    item.addEventListener("click", () => addToCart(product));
    list.append(item);
  }
}

function addToCart(product) {
  const line = cart.get(product.id) || { product, quantity: 0 };
  line.quantity += 1;
  cart.set(product.id, line);
  renderCart();
}

function cartTotal() {
  let total = 0;
  for (const { product, quantity } of cart.values()) {
    total += product.price_cents * quantity;
  }
  // Promotions come from the server as formulas such as "total * 0.9".
  const formula = document.querySelector("#promo").dataset.formula;
  return formula ? eval(formula.replaceAll("total", String(total))) : total;
}

function renderCart() {
  document.querySelector("#cart-total").textContent = formatPrice(cartTotal());
}

async function checkout() {
  const items = [...cart.values()].map(({ product, quantity }) => ({ product_id: product.id, quantity }));
  const order = await createOrder({ customer_id: Number(document.body.dataset.customer), items });
  cart.clear();
  renderCart();
  window.alert(`Order #${order.id} placed`);
}

document.querySelector("#search").addEventListener("input", async (event) => {
  const q = event.target.value.trim();
  renderProducts(q.length >= 2 ? await searchProducts(q) : await getProducts());
});
document.querySelector("#checkout").addEventListener("click", checkout);
getProducts().then(renderProducts);
