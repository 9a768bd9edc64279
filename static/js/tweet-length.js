/* A tweet's length as Twitter counts it, for the compose box's live counter: an approximation
   of twitter-text's weighted length. The server counts with twitter-text-parser
   (timeline/text.py) and its answer decides; this only shows, while typing, what it will say.

   The rules (twitter-text v3): the text is NFC-normalised; a link counts 23 whatever its length;
   an emoji counts 2, a whole sequence as one (a ZWJ family, a flag, a keycap, a skin tone); a
   code point in U+0000-U+10FF, U+2000-U+200D, U+2010-U+201F or U+2032-U+2037 counts 1 (Latin,
   Greek, Cyrillic, Hebrew, Arabic, Indic scripts, common punctuation); anything else 2 (CJK,
   Hangul, most symbols).

   Where it may differ from the server: a link without "http(s)://" is recognised here only for
   common top-level domains (twitter-text knows all ~1,500: "foo.bar" is a link there, not
   here), and emoji by Unicode's Extended_Pictographic property rather than twitter-text's own
   list. tests/timeline/test_views.py runs this file under Node against the server's count. */
(function (root) {
  "use strict";

  var URL_WEIGHT = 23;
  var WEIGHT_1 = [[0x0, 0x10ff], [0x2000, 0x200d], [0x2010, 0x201f], [0x2032, 0x2037]];
  var GTLDS = [
    "com", "org", "net", "edu", "gov", "mil", "int", "info", "biz", "name", "pro", "mobi",
    "app", "dev", "page", "io", "ai", "xyz", "online", "site", "website", "tech", "blog",
    "news", "shop", "store", "link", "live", "social", "cloud", "email", "media", "art",
    "design", "wiki", "top", "club", "space", "world", "today", "life", "network", "digital",
  ];
  // Scheme (optional), labels, a TLD (a listed gTLD, any two letters: the ccTLDs, or
  // punycode), port, path and query. Not after a letter, digit, @, $ or # (twitter-text's
  // preceding-character rule), nor, without a scheme, after - _ . or /.
  var URL_RE = new RegExp(
    "(^|[^A-Za-z0-9@\uFF20$#\uFF03])" +
      "((https?:\\/\\/)?(?:[a-z0-9\u00c0-\u024f_-]+\\.)+(?:" + GTLDS.join("|") +
      "|[a-z]{2}|xn--[a-z0-9-]+)(?![a-z0-9\u00c0-\u024f_-])(?::\\d{1,5})?(?:[/?#][^\\s]*)?)",
    "gi"
  );
  var TRAILING = /[.,!?:;'")\]}>]+$/; // ends a sentence, not the link
  var PICTOGRAPHIC = /\p{Extended_Pictographic}/u;

  function isRegionalIndicator(cp) {
    return cp >= 0x1f1e6 && cp <= 0x1f1ff;
  }

  // Code points that belong to the emoji before them: variation selectors, skin tones, the
  // keycap mark, tags (subdivision flags), and a ZWJ joining the next pictograph.
  function isEmojiTail(cp) {
    return cp === 0xfe0f || cp === 0xfe0e || (cp >= 0x1f3fb && cp <= 0x1f3ff) ||
      cp === 0x20e3 || (cp >= 0xe0020 && cp <= 0xe007f);
  }

  function weightOf(cp) {
    for (var i = 0; i < WEIGHT_1.length; i++) {
      if (cp >= WEIGHT_1[i][0] && cp <= WEIGHT_1[i][1]) return 1;
    }
    return 2;
  }

  // The weight of text that holds no link.
  function plainWeight(text) {
    var cps = Array.from(text, function (ch) { return ch.codePointAt(0); });
    var total = 0;
    var i = 0;
    while (i < cps.length) {
      var cp = cps[i];
      var ch = String.fromCodePoint(cp);
      var keycap = /[0-9#*]/.test(ch) &&
        (cps[i + 1] === 0x20e3 || (cps[i + 1] === 0xfe0f && cps[i + 2] === 0x20e3));
      if (keycap || PICTOGRAPHIC.test(ch) || isRegionalIndicator(cp)) {
        total += 2;
        i += 1;
        if (isRegionalIndicator(cp) && isRegionalIndicator(cps[i])) i += 1; // a flag: a pair
        for (;;) {
          if (i < cps.length && isEmojiTail(cps[i])) {
            i += 1;
          } else if (cps[i] === 0x200d && i + 1 < cps.length &&
                     PICTOGRAPHIC.test(String.fromCodePoint(cps[i + 1]))) {
            i += 2; // ZWJ + the next pictograph: one emoji
          } else {
            break;
          }
        }
      } else {
        total += weightOf(cp);
        i += 1;
      }
    }
    return total;
  }

  function weightedLength(text) {
    text = String(text).normalize("NFC").replace(/\r\n?/g, "\n");
    var total = 0;
    var last = 0;
    var match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text)) !== null) {
      var before = match[1];
      var url = match[2].replace(TRAILING, "");
      var start = match.index + before.length;
      if (!match[3] && start > 0 && /[-_./]/.test(text.charAt(start - 1))) continue;
      total += plainWeight(text.slice(last, start)) + URL_WEIGHT;
      last = start + url.length;
      URL_RE.lastIndex = last;
    }
    return total + plainWeight(text.slice(last));
  }

  var api = { weightedLength: weightedLength, URL_WEIGHT: URL_WEIGHT };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.TweetLength = api;
})(typeof window !== "undefined" ? window : this);
