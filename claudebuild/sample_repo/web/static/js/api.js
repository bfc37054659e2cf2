// Thin wrapper around fetch() for the Shopfront JSON API.

export async function request(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  const session = window.sessionStorage.getItem("session");
  if (session) {
    headers["X-Session"] = session;
  }
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // FIXME: a 401 should send the user to the login page instead of throwing
  if (!response.ok) {
    throw new Error(`${method} ${path} failed with ${response.status}`);
  }
  return response.json();
}

export const getProducts = (limit = 50) => request("GET", `/products?limit=${limit}`);
export const searchProducts = (q) => request("GET", `/products/search?q=${encodeURIComponent(q)}`);
export const createOrder = (order) => request("POST", "/orders", order);
