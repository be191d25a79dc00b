/* Service worker of the live console: lets an observer reload the console while the network is down.
 *
 * The console page and its static files are answered from the network when possible and from the
 * cache otherwise. The API (notes, stream) is never touched: the page's own queue handles it.
 */
"use strict";

var CACHE = "usabtest-console-v1";
var CONSOLE_PATH = /^\/sessions\/\d+\/observe$/;

self.addEventListener("install", function () { self.skipWaiting(); });

self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  var isConsole = CONSOLE_PATH.test(url.pathname);
  if (!isConsole && url.pathname.indexOf("/static/") !== 0) { return; }
  event.respondWith(fetch(request).then(function (response) {
    // A redirect to the sign-in page is not the console: never cache it in its place.
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { return cache.put(url.pathname, copy); });
    }
    return response;
  }, function () {
    return caches.open(CACHE).then(function (cache) { return cache.match(url.pathname); })
      .then(function (cached) { return cached || Response.error(); });
  }));
});
