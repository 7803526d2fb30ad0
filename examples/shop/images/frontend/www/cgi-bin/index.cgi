#!/bin/sh
# The front page: busybox httpd runs cgi-bin/index.cgi for "/" (no index.html), so every
# address `podplay up` prints answers with the shop page.
exec /www/cgi-bin/shop
