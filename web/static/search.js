// Roost browse page: the listing search (docs/search.md) and its map. The
// map is Leaflet's; its tiles come from ROOST_MAP_TILES_URL (the ingress
// writes it into #map's data-tiles), and without one the markers stand on
// a plain background and no request leaves this server. Data goes into
// the page through textContent only.
"use strict";

const SEARCH_PER_PAGE = 8;
const search = { page: 1, bbox: "", map: null, markers: null };

function searchEl(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function searchMap() {
  if (search.map || typeof L === "undefined") return search.map;
  const box = document.getElementById("map");
  search.map = L.map(box, { zoomControl: true, attributionControl: !!box.dataset.tiles }).setView([46, 8], 4);
  if (box.dataset.tiles) L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: "Map tiles" }).addTo(search.map);
  search.markers = L.layerGroup().addTo(search.map);
  return search.map;
}

function searchQuery() {
  const q = new URLSearchParams({ page: search.page, per_page: SEARCH_PER_PAGE });
  const city = document.getElementById("search-city").value;
  const type = document.getElementById("search-type").value;
  const bedrooms = document.getElementById("search-bedrooms").value;
  const price = document.getElementById("search-price").value.trim();
  const words = document.getElementById("search-words").value.trim();
  if (search.bbox) q.set("bbox", search.bbox);
  else if (city) q.set("city", city);
  if (type) q.set("type", type);
  if (bedrooms) q.set("min_bedrooms", bedrooms);
  if (price) q.set("max_price", price);
  if (words) q.set("q", words); // best matches first (docs/search.md)
  return q;
}

async function runSearch() {
  const res = await fetch(`/api/v1/listings?${searchQuery()}`, { headers: { Accept: "application/json" } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.errors?.[0] ? `${body.errors[0].field}: ${body.errors[0].message}` : (body.detail || `the server answered ${res.status}`));
  const list = document.getElementById("listing-list");
  list.replaceChildren();
  const map = searchMap();
  if (search.markers) search.markers.clearLayers();
  const points = [];
  for (const l of body.items) {
    const p = l.property || {};
    const li = searchEl("li");
    if (l.cover_url) {
      /* A 320 px copy, WebP when the browser takes it (GET /media/{id}?w=). */
      const img = searchEl("img", null, "cover");
      img.src = `${l.cover_url}?w=320`;
      img.alt = p.name ? `Photo of ${p.name}` : "Photo of the listing";
      img.loading = "lazy";
      li.append(img);
    }
    li.append(searchEl("strong", `${l.price.toLocaleString("en")} · ${l.listing_type}`));
    const what = p.type ? `${p.type} · ${p.bedrooms} bedroom${p.bedrooms === 1 ? "" : "s"} · ${p.city}` : "no property";
    li.append(searchEl("div", p.name ? `${p.name} — ${what}` : what, "meta"));
    list.append(li);
    if (map && p.location) {
      const at = [p.location.lat, p.location.lon];
      L.circleMarker(at, { radius: 7, className: "listing-marker", weight: 2 })
        .bindTooltip(`${p.name || "Listing"}: ${l.price}`).addTo(search.markers);
      points.push(at);
    }
  }
  if (map && points.length && !search.bbox) map.fitBounds(points, { padding: [24, 24], maxZoom: 15 });
  document.getElementById("listing-count").textContent =
    `${body.total} listing${body.total === 1 ? "" : "s"}${search.bbox ? " in this map area" : ""}`;
  const pages = Math.max(1, Math.ceil(body.total / body.per_page));
  document.getElementById("listing-pager").hidden = body.total <= body.per_page;
  document.getElementById("listing-page").textContent = `Page ${body.page} of ${pages}`;
  document.getElementById("listing-prev").disabled = body.page <= 1;
  document.getElementById("listing-next").disabled = body.page >= pages;
}

function searchGuard(fn) {
  return (...args) => {
    const box = document.getElementById("error");
    box.hidden = true;
    return fn(...args).catch((e) => { box.textContent = e.message; box.hidden = false; });
  };
}

async function searchCities() {
  const res = await fetch("/api/v1/cities", { headers: { Accept: "application/json" } });
  const { items = [] } = await res.json().catch(() => ({}));
  const select = document.getElementById("search-city");
  for (const { city } of items) {
    const option = searchEl("option", city);
    option.value = city;
    select.append(option);
  }
}

document.getElementById("listing-search").addEventListener("submit", searchGuard(async (e) => {
  e.preventDefault();
  search.page = 1;
  search.bbox = "";
  await runSearch();
}));
document.getElementById("search-area").addEventListener("click", searchGuard(async () => {
  const map = searchMap();
  if (!map) return;
  const b = map.getBounds();
  const f = (x) => x.toFixed(5);
  search.bbox = `${f(Math.max(-180, b.getWest()))},${f(Math.max(-89.9, b.getSouth()))},` +
                `${f(Math.min(180, b.getEast()))},${f(Math.min(89.9, b.getNorth()))}`;
  search.page = 1;
  await runSearch();
}));
document.getElementById("listing-prev").addEventListener("click", searchGuard(async () => { search.page--; await runSearch(); }));
document.getElementById("listing-next").addEventListener("click", searchGuard(async () => { search.page++; await runSearch(); }));
searchGuard(async () => { searchMap(); await searchCities(); await runSearch(); })();
