{% load i18n %}{% translate "离线：这台手机上还没有城管通的页面。请联网后打开一次。" as offline_text %}// 城管通 service worker (scope /m/). Shell version {{ version }}.
// - the app shell (page, script, styles, Leaflet, icons) is cached at install;
// - the page is fetched from the network first (a new deploy shows at once), from the cache
//   when the network fails or is too slow;
// - photos of cases (thumbnail/public, immutable) and map outlines are kept for offline use;
// - nothing else of the API is touched: POSTs and other API requests always go to the network.
//   Unsent reports wait in the page's own outbox (IndexedDB), not here.
"use strict";
const VERSION = "{{ version }}";
const SHELL = "ck-shell-" + VERSION;
const RUNTIME = "ck-runtime";
const PAGE = "/m/";
const SHELL_URLS = {{ shell|safe }};
const PAGE_TIMEOUT_MS = 4000;
const RUNTIME_MAX = 300;
const OFFLINE_TEXT = "{{ offline_text|escapejs }}";

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL);
      const statics = SHELL_URLS.filter((url) => url !== PAGE);
      await cache.addAll(statics.map((url) => new Request(url, { cache: "reload" })));
      try {
        const page = await fetch(new Request(PAGE, { credentials: "same-origin", cache: "reload" }));
        if (page.ok && !page.redirected) await cache.put(PAGE, page);
      } catch (e) {
        // offline at install: the page is cached on its next load
      }
      await self.skipWaiting();
    })()
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("ck-shell-") && name !== SHELL) await caches.delete(name);
      }
      await self.clients.claim();
    })()
  );
});

self.addEventListener("message", (event) => {
  // The app asks for this at logout: nothing of the user's cases stays on the phone.
  if (event.data && event.data.type === "logout") {
    event.waitUntil(
      (async () => {
        await caches.delete(RUNTIME);
        const cache = await caches.open(SHELL);
        await cache.delete(PAGE);
      })()
    );
  }
});

async function pageFirst(request) {
  const cache = await caches.open(SHELL);
  const network = fetch(request).then(async (response) => {
    if (response.ok && !response.redirected && response.type === "basic") {
      await cache.put(PAGE, response.clone());
    }
    return response;
  });
  const cached = await cache.match(PAGE);
  if (!cached) {
    return network.catch(
      () => new Response(OFFLINE_TEXT, { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } })
    );
  }
  const slow = new Promise((resolve) => setTimeout(() => resolve(cached), PAGE_TIMEOUT_MS));
  return Promise.race([network.catch(() => cached), slow]);
}

async function trim(cache) {
  const keys = await cache.keys();
  for (let i = 0; i < keys.length - RUNTIME_MAX; i += 1) await cache.delete(keys[i]);
}

async function cacheFirst(request) {
  const cache = await caches.open(RUNTIME);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) {
    await cache.put(request, response.clone());
    trim(cache);
  }
  return response;
}

async function networkFirst(request) {
  const cache = await caches.open(RUNTIME);
  try {
    const response = await fetch(request);
    if (response.ok) {
      await cache.put(request, response.clone());
      trim(cache);
    }
    return response;
  } catch (e) {
    const hit = await cache.match(request);
    if (hit) return hit;
    throw e;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return; // never POSTs: reports go to the server or stay queued
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    if (url.pathname === PAGE) event.respondWith(pageFirst(request));
    return;
  }
  if (url.pathname.startsWith("/api/")) {
    const variant = url.searchParams.get("variant");
    if (/^\/api\/v1\/cases\/[^/]+\/attachments\/\d+$/.test(url.pathname) && (variant === "thumbnail" || variant === "public")) {
      event.respondWith(cacheFirst(request));
    } else if (url.pathname === "/api/v1/map/areas") {
      event.respondWith(networkFirst(request));
    }
    return; // every other API request: the network, untouched
  }
  if (SHELL_URLS.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then((hit) => hit || fetch(request)));
  }
});
