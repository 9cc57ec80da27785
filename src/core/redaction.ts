/**
 * Secret redaction: everything Baton stores from the outside world (agent messages, work context,
 * artifacts, notes) passes {@link redactSecrets} / {@link redactDeep} first, so a key that an agent
 * pastes into a message never lands in Baton's database.
 *
 * Each secret is replaced by `[REDACTED:<kind>]`. Where a secret sits inside a larger structure
 * only the secret goes: `https://user:[REDACTED:password-in-url]@host/`,
 * `API_KEY=[REDACTED:generic-api-key]`, `Authorization: Bearer [REDACTED:authorization-header]`.
 * A private key block is replaced whole (BEGIN and END lines included).
 *
 * Rule set and its sources
 * - Most rules are ported from gitleaks' default configuration, **gitleaks v8.30.1,
 *   `config/gitleaks.toml`** (MIT, https://github.com/gitleaks/gitleaks; generated from
 *   `cmd/generate/config/rules/*.go`). Each rule below names the gitleaks rule id it comes from.
 *   Ported with its regex, its Shannon-entropy threshold (the secret must have MORE bits per
 *   character than the threshold, as in gitleaks' `detect.go`), its allowlists and, for
 *   `generic-api-key`, its stopwords; plus gitleaks' global allowlist (`^true|false|null$`,
 *   one repeated letter, `$VAR`, `${VAR}`, `{{ … }}`, `%VAR%`, `/usr/…` paths, …).
 * - `aws-secret-access-key` and npm's `_authToken=` come from **secretlint v10.2.2**
 *   (`@secretlint/secretlint-rule-aws`, `@secretlint/secretlint-rule-npm`, MIT,
 *   https://github.com/secretlint/secretlint): gitleaks v8.30.1 has no rule for either.
 * - `password-in-url` follows **secretlint v10.2.2 `@secretlint/secretlint-rule-basicauth`**
 *   (its placeholder and template filters), widened from http/ftp to every URL scheme
 *   (`postgres://`, `redis://`, `mongodb+srv://`, …) and to passwords with any characters.
 * - `generic-password` is Baton's own: the key=value syntax of gitleaks' `generic-api-key`, for
 *   keys named password/passwd/pwd/passphrase/`*_PASS`, accepting the symbols people put in
 *   passwords (which `generic-api-key`'s value pattern does not).
 *
 * Of gitleaks' 222 rules, 69 are ported: the ones whose secrets have a distinctive prefix or
 * structure (so they are safe to apply to prose) for the services agents and developers meet most.
 * Keyword-context rules of smaller services (`discord-api-token`, `confluent-secret-key`, …) are
 * left to `generic-api-key`, which catches `<name>_key = <random value>` whatever the name.
 *
 * Why not run secretlint itself: its runner (`@secretlint/core` `lintSource`) is asynchronous and
 * this API must be synchronous; its packages are ES modules; its latest releases (v12.3+, v13)
 * require node >= 22 while Baton runs on node 20; and its recommended preset has no JWT, Stripe,
 * GitLab, Anthropic, Google API key or generic key=value rules. gitleaks has all of them but is a
 * Go program, so its patterns are ported here, in JavaScript regular-expression syntax.
 *
 * Deviations from the sources, all to catch secrets in prose and chat messages rather than only in
 * files, and each noted at its rule:
 * - gitleaks ends many token patterns with `(?:[\x60'"\s;]|\\[nr]|$)`, so `…token.` at the end of
 *   a sentence is missed. Here provider tokens need no terminator; instead the redaction is
 *   extended over the rest of the run of token characters (`[A-Za-z0-9_-]`), so a longer token
 *   than the pattern expects is never half-redacted.
 * - gitleaks' `generic-api-key` accepts a key and its value on different lines
 *   (`key,\n  "value"`), which in pretty-printed JSON pairs one entry's key with the next entry's
 *   name; here key, operator and value must be on one line. Property paths
 *   (`forge.pbe.generatePkcs12Key`) are not values.
 * - `curl-auth-header` is applied to any `Authorization:` / `X-…-Key:` header text, not only on a
 *   curl command line; `curl-auth-user` looks at one line. `twilio-api-key` gets word boundaries;
 *   `vault-service-token`'s legacy `s.` form is left out (too ambiguous in prose).
 * - A private key block cut off before its END line is still redacted (header plus body).
 * - Image `data:` URLs (`data:image/png;base64,…`) are not scanned: their payload is pixels,
 *   and long base64 runs would otherwise produce random hits.
 *
 * Properties
 * - Synchronous and pure (no I/O); deterministic.
 * - Idempotent: `redactSecrets(redactSecrets(x).text).text === redactSecrets(x).text`. Text that
 *   is already a marker (`[REDACTED:kind]`) is never matched again, and a pass that changed the
 *   text is followed by another pass until nothing changes (at most {@link MAX_PASSES}).
 * - Overlapping matches: the rule listed first wins (specific provider rules before generic
 *   key=value rules), so `api_key = ghp_…` is reported as `github-token`.
 */

/** One kind of secret found, and how many times. */
export interface RedactionFinding {
  kind: string;
  count: number;
}

/** The redacted text and what was removed from it (sorted by kind; empty when nothing was). */
export interface RedactionResult {
  text: string;
  findings: RedactionFinding[];
}

/** The marker that replaces a secret of `kind`. */
export const redactionMarker = (kind: string): string => `[REDACTED:${kind}]`;

/** Markers already in a text: never matched again (idempotency). */
const MARKER = /\[REDACTED:[a-z0-9-]{1,64}\]/g;

/** Redaction repeats until a pass changes nothing, at most this many passes. */
const MAX_PASSES = 4;

/** Characters of a token: the redaction of a provider token is extended over the rest of them. */
const TOKEN_CHAR = /[A-Za-z0-9_-]/;

/** Payloads of image data URLs, which are not scanned. */
const IMAGE_DATA_URL = /data:image\/[\w.+-]{1,40};base64,([A-Za-z0-9+/]+={0,2})/gi;

interface Rule {
  /** The kind reported and written in the marker. */
  kind: string;
  /** Where the rule comes from: `gitleaks:<rule id>`, `secretlint:<rule>` or `baton`. */
  source: string;
  /** Global regex, with the `d` flag when the secret is a capture group. */
  regex: RegExp;
  /** Lower-case strings of which at least one must occur in the text for the rule to run. */
  keywords?: readonly string[];
  /** The capture group(s) holding the secret, first non-empty wins; default: the whole match. */
  groups?: readonly number[];
  /** The secret's Shannon entropy (bits per character) must be greater than this. */
  entropy?: number;
  /** Shortens the secret from its end (e.g. sentence punctuation after an unquoted value). */
  refine?: (secret: string, match: RegExpExecArray) => string;
  /** Extend the redaction over the following token characters (see the module doc). */
  extend?: boolean;
  /** Returns true when this match is a known false positive and must be kept. */
  allow?: (secret: string, match: RegExpExecArray, text: string) => boolean;
  /** Kind to report for this match, when it depends on the match (default: `kind`). */
  kindOf?: (match: RegExpExecArray) => string;
}

/** A case-insensitive pattern for a word without the `i` flag: `key` → `[kK][eE][yY]`. */
function ci(word: string): string {
  return word.replace(/[a-z]/gi, c => `[${c.toLowerCase()}${c.toUpperCase()}]`);
}

/**
 * Shannon entropy of a string in bits per character (code point), as gitleaks' `shannonEntropy`
 * in `detect/utils.go`: -Σ p·log2(p) over the frequencies of its characters.
 */
export function shannonEntropy(text: string): number {
  if (!text) return 0;
  const counts = new Map<string, number>();
  let length = 0;
  for (const char of text) {
    counts.set(char, (counts.get(char) ?? 0) + 1);
    length++;
  }
  let entropy = 0;
  for (const count of counts.values()) {
    const p = count / length;
    entropy -= p * Math.log2(p);
  }
  return entropy;
}

/**
 * gitleaks v8.30.1 global allowlist (`[allowlist]` of `config/gitleaks.toml`), applied to the
 * secret. (`(?i)^true|false|null$` there is read as the anchored alternation it means.)
 */
const GLOBAL_ALLOW: readonly RegExp[] = [
  /^(?:true|false|null)$/i,
  /^(?:a+|b+|c+|d+|e+|f+|g+|h+|i+|j+|k+|l+|m+|n+|o+|p+|q+|r+|s+|t+|u+|v+|w+|x+|y+|z+|\*+|\.+)$/i,
  /^\$(?:\d+|\{\d+\})$/,
  /^\$(?:[A-Z_]+|[a-z_]+)$/,
  /^\$\{(?:[A-Z_]+|[a-z_]+)\}$/,
  /^\{\{[ \t]*[\w ().|]+[ \t]*\}\}$/,
  /^\$\{\{[ \t]*(?:(?:env|github|secrets|vars)(?:\.[A-Za-z]\w+)+[\w "'&./=|]*)[ \t]*\}\}$/,
  /^%(?:[A-Z_]+|[a-z_]+)%$/,
  /^%[+\-# 0]?[bcdeEfFgGoOpqstTUvxX]$/,
  /^\{\d{0,2}\}$/,
  /^@(?:[A-Z_]+|[a-z_]+)@$/,
  /^\/Users\/[a-zA-Z0-9]+\/[\w .\-/]+$/,
  /^\/(?:bin|etc|home|opt|tmp|usr|var)\/[\w ./-]+$/,
];
const GLOBAL_STOPWORDS = ['014df517-39d1-4453-b7b3-9930c563627c', 'abcdefghijklmnopqrstuvwxyz'];

function globallyAllowed(secret: string): boolean {
  if (GLOBAL_ALLOW.some(re => re.test(secret))) return true;
  const lower = secret.toLowerCase();
  return GLOBAL_STOPWORDS.some(word => lower.includes(word));
}

/** gitleaks v8.30.1 `generic-api-key` stopwords (allowlist 2): a secret containing one is kept. */
const GENERIC_STOPWORDS: readonly string[] = `
000000 6fe4476ee5a1832882e326b506d14126 _ec2_ aaaaaa about abstract academy acces account act-
act. act_ action active actively activity adapter add- add-on add. add_ addon addres admin adobe
advanced adventure agent agile air- air. air_ ajax akka alert alfred algorithm all- all. all_
alloy alpha amazon amqp analysi analytic analyzer android angular angularj animate animation
another ansible answer ant- ant. ant_ any- any. any_ apache app- app. app_ apple arch archive
archived arduino array art- art. art_ article asp- asp. asp_ asset async atom attention audio
audit aura auth author authorize auto automated automatic awesome aws_ azure back backbone
backend backup bar- bar. bar_ base based bash basic batch been beer behavior being benchmark
best beta better big- big. big_ binary binding bit- bit. bit_ bitcoin block blog board book
bookmark boost boot bootstrap bosh bot- bot. bot_ bower box- box. box_ boxen bracket branch
bridge browser brunch buffer bug- bug. bug_ build builder building buildout buildpack built
bundle busines but- but. but_ button cache caching cakephp calendar call camera campfire can-
can. can_ canva captcha capture card carousel case cassandra cat- cat. cat_ category center
cento challenge change changelog channel chart chat cheat check checker chef ches chinese chosen
chrome ckeditor clas classe classic clean cli- cli. cli_ client clojure clone closure cloud club
cluster cms- cms_ coco code coding coffee color combination combo command commander comment
commit common community compas compiler complete component composer computer computing con- con.
con_ concept conf config connect connector console contact container contao content contest
context control convert converter conway' cookbook cookie cool copy cordova core couchbase
couchdb countdown counter course craft crawler create creating creator credential crm- crm. crm_
cros crud csv- csv. csv_ cube cucumber cuda current currently custom daemon dark dart dash
dashboard data database date day- day. day_ dead debian debug debugger deck define del- del.
del_ delete demo deploy design designer desktop detection detector dev- dev. dev_ develop
developer device devise diff digital directive directory discovery display django dns- dns_ doc-
doc. doc_ docker docpad doctrine document doe- doe. doe_ dojo dom- dom. dom_ domain don't done
dot- dot. dot_ dotfile download draft drag drill drive driven driver drop dropbox drupal dsl-
dsl. dsl_ dynamic easy ecdsa eclipse edit editing edition editor element emac email embed
embedded ember emitter emulator encoding endpoint engine english enhanced entity entry env_
episode erlang error espresso event evented example exchange exercise experiment expire exploit
explorer export exporter expres ext- ext. ext_ extended extension external extra extractor
fabric facebook factory fake fast feature feed fewfwef ffmpeg field file filter find finder
firefox firmware first fish fix- fix_ flash flask flat flex flexible flickr flow fluent fluentd
fluid folder font force foreman fork form format formatter forum foundry framework free friend
friendly front-end frontend ftp- ftp. ftp_ fuel full fun- fun. fun_ func future gaia gallery
game gateway gem- gem. gem_ gen- gen. gen_ general generator generic genetic get- get. get_
getenv getting ghost gist git- git. git_ github gitignore gitlab glas gmail gnome gnu- gnu. gnu_
goal golang gollum good google gpu- gpu. gpu_ gradle grail graph graphic great grid groovy group
grunt guard gui- gui. gui_ guide guideline gulp gwt- gwt. gwt_ hack hackathon hacker hacking
hadoop haml handler hardware has- has_ hash haskell have haxe hello help helper here hero heroku
high hipchat history home homebrew homepage hook host hosting hot- hot. hot_ house how- how.
how_ html http hub- hub. hub_ hubot human icon ide- ide. ide_ idea identity idiomatic image
impact import important importer impres index infinite info injection inline input inside
inspector instagram install installer instant intellij interface internet interview into intro
ionic iphone ipython irc- irc_ iso- iso. iso_ issue jade jasmine java jbos jekyll jenkin
jetbrains job- job. job_ joomla jpa- jpa. jpa_ jquery json just kafka karma kata kernel keyboard
kindle kit- kit. kit_ kitchen knife koan kohana lab- lab. lab_ lambda lamp language laravel last
latest latex launcher layer layout lazy ldap leaflet league learn learning led- led. led_
leetcode les- les. les_ level leveldb lib- lib. lib_ librarie library license life liferay light
lightbox like line link linked linkedin linux lisp list lite little load loader local location
lock log- log. log_ logger logging logic login logstash longer look love lua- lua. lua_ mac-
mac. mac_ machine made magento magic mail make maker making man- man. man_ manage manager
manifest manual map- map. map_ mapper mapping markdown markup master math matrix maven md5 mean
media mediawiki meetup memcached memory menu merchant message messaging meta metadata meteor
method metric micro middleman migration minecraft miner mini minimal mirror mit- mit. mit_
mobile mocha mock mod- mod. mod_ mode model modern modular module modx money mongo mongodb
mongoid mongoose monitor monkey more motion moved movie mozilla mqtt mule multi multiple music
mustache mvc- mvc. mvc_ mysql nagio name native need neo- neo. neo_ nest nested net- net. net_
nette network new- new. new_ next nginx ninja nlp- nlp. nlp_ node nodej nosql not- not. not_
note notebook notepad notice notifier now- now. now_ number oauth object objective obsolete
ocaml octopres official old- old. old_ onboard online only open opencv opengl openshift openwrt
option oracle org- org. org_ origin original orm- orm. orm_ osx- osx_ our- our. our_ out- out.
out_ output over overview own- own. own_ pack package packet page panel paper paperclip para
parallax parallel parse parser parsing particle party password patch path pattern payment paypal
pdf- pdf. pdf_ pebble people perl personal phalcon phoenix phone phonegap photo php- php. php_
physic picker pipeline platform play player please plu- plu. plu_ plug-in plugin plupload png-
png. png_ poker polyfill polymer pool pop- pop. pop_ popcorn popup port portable portal
portfolio post power powered powerful prelude pretty preview principle print pro- pro. pro_
problem proc product profile profiler program progres project protocol prototype provider proxy
public pull puppet pure purpose push pusher pyramid python quality query queue quick rabbitmq
rack radio rail railscast random range raspberry rdf- rdf. rdf_ react reactive read reader
readme ready real real-time reality realtime recipe recorder red- red. red_ reddit redi redmine
reference refinery refresh registry related release remote rendering repo report request require
required requirej research resource response resque rest restful resume reveal reverse review
riak rich right ring robot role room router routing rpc- rpc. rpc_ rpg- rpg. rpg_ rspec ruby-
ruby. ruby_ rule run- run. run_ runner running runtime rust rvm- rvm. rvm_ salt sample sandbox
sas- sas. sas_ sbt- sbt. sbt_ scala scalable scanner schema scheme school science scraper
scratch screen script scroll scs- scs. scs_ sdk- sdk. sdk_ sdl- sdl. sdl_ search secure security
see- see. see_ seed select selector selenium semantic sencha send sentiment serie server service
session set- set. set_ setting setup sha1 sha2 sha256 share shared sharing sheet shell shield
shipping shop shopify shortener should show showcase side silex simple simulator single site
skeleton sketch skin slack slide slider slim small smart smtp snake snapshot snippet soap social
socket software solarized solr solution solver some soon source space spark spatial spec sphinx
spine spotify spree spring sprite sql- sql. sql_ sqlite ssh- ssh. ssh_ stack staging standard
stanford start started starter startup stat statamic state static statistic statsd statu steam
step still stm- stm. stm_ storage store storm story strategy stream streaming string stripe
structure studio study stuff style sublime sugar suite summary super support supported svg- svg.
svg_ svn- svn. svn_ swagger swift switch switcher symfony symphony sync synopsi syntax system
tab- tab. tab_ table tag- tag. tag_ talk target task tcp- tcp. tcp_ tdd- tdd. tdd_ team tech
template term terminal testing tetri text textmate theme theory three thrift time timeline timer
tiny tinymce tip- tip. tip_ title todo todomvc token tool toolbox toolkit top- top. top_ tornado
touch tower tracker tracking traffic training transfer translate transport tree trello try- try.
try_ tumblr tut- tut. tut_ tutorial tweet twig twitter type typo ubuntu uiview ultimate under
unit unity universal unix update updated upgrade upload uploader uri- uri. uri_ url- url. url_
usage usb- usb. usb_ use- use. use_ used useful user using util utilitie utility vagrant
validator value variou varnish version via- via. via_ video view viewer vim- vim. vim_ vimrc
virtual vision visual vpn want warning watch watcher wave way- way. way_ weather web- web_
webapp webgl webhook webkit webrtc website websocket welcome what what' when where which why-
why. why_ widget wifi wiki win- win. win_ window wip- wip. wip_ within without wizard word
wordpres work worker workflow working workshop world wrapper write writer writing written www-
www. www_ xamarin xcode xml- xml. xml_ xmpp xxxxxx yahoo yaml yandex yeoman yet- yet. yet_ yii-
yii. yii_ youtube yui- yui. yui_ zend zero zip- zip. zip_ zsh- zsh. zsh_
`.split(/\s+/).filter(Boolean);

/** gitleaks v8.30.1 `generic-api-key` match allowlist (case-insensitive part). */
const GENERIC_MATCH_ALLOW_I = new RegExp(
  String.raw`(?:access(?:ibility|or)|access[_.-]?id|random[_.-]?access|api[_.-]?(?:id|name|version)|rapid|capital|[a-z0-9-]*?api[a-z0-9-]*?:jar:|author|X-MS-Exchange-Organization-Auth|Authentication-Results|(?:credentials?[_.-]?id|withCredentials)|(?:bucket|foreign|hot|idx|natural|primary|pub(?:lic)?|schema|sequence)[_.-]?key|(?:turkey)|key[_.-]?(?:alias|board|code|frame|id|length|mesh|name|pair|press(?:ed)?|ring|selector|signature|size|stone|storetype|word|up|down|left|right)|key[_.-]?vault[_.-]?(?:id|name)|keyVaultToStoreSecrets|key(?:store|tab)[_.-]?(?:file|path)|issuerkeyhash|keying|(?:secret)[_.-]?(?:length|name|size)|UserSecretsId|(?:csrf)[_.-]?token|(?:io\.jsonwebtoken[ \t]?:[ \t]?[\w-]+)|(?:api|credentials|token)[_.-]?(?:endpoint|ur[il])|public[_.-]?token|(?:key|token)[_.-]?file)`,
  'i',
);
/** gitleaks v8.30.1 `generic-api-key` match allowlist (its case-sensitive `(?-i:…)` parts). */
const GENERIC_MATCH_ALLOW_CS =
  /[DdMm]onkey|[DM]ONKEY|(?:[A-Z_]+=\n[A-Z_]+=|[a-z_]+=\n[a-z_]+=)(?:\n|$)|(?:[A-Z.]+=\n[A-Z.]+=|[a-z.]+=\n[a-z.]+=)(?:\n|$)/;
/** gitleaks v8.30.1 `generic-api-key` line allowlist. */
const GENERIC_LINE_ALLOW = [/--mount=type=secret,/, /import[ \t]+\{[ \t\w,]+\}[ \t]+from[ \t]+['"][^'"]+['"]/];

/**
 * Placeholders and templates that are not real passwords: secretlint v10.2.2
 * `secretlint-rule-basicauth` (`BUILTIN_IGNORED_PATTERNS`, `isVariableLikeString`), compared
 * whole instead of as substrings (so `MyPassword123!` is still redacted), plus common fillers.
 */
const PASSWORD_PLACEHOLDERS = new Set([
  'password', 'mypassword', 'yourpassword', 'your_password', 'your-password', 'replace_with_password',
  'pass', 'passwd', 'pwd', 'secret', 'changeme', 'changeit', 'redacted', 'hidden', 'masked', 'none',
  'null', 'undefined', 'example', 'test', 'dummy', 'placeholder', '{password}', '${password}',
  '{{password}}',
]);
function isTemplateLike(value: string): boolean {
  return (
    /\$\{[^}]{1,50}\}/.test(value) || // ${var}
    /\{\{[^}]{1,50}\}\}/.test(value) || // {{var}}
    /\{[^}]{1,50}\}/.test(value) || // {var}
    /%[A-Z_]{1,30}%/.test(value) || // %VAR%
    /^\$[A-Za-z_]{1,30}$|\$[A-Z_]{2,30}/.test(value) || // $VAR
    /^\$\(.*\)$/.test(value) || // $(command)
    /^<[^<>]{1,60}>$/.test(value) // <your-password>
  );
}
function isPasswordPlaceholder(value: string): boolean {
  return (
    PASSWORD_PLACEHOLDERS.has(value.toLowerCase()) ||
    /^(.)\1{3,}$/.test(value) || // aaaa, ****, xxxx
    /^[*•x.]+$/i.test(value) || // ******** or xxx.xxx
    isTemplateLike(value)
  );
}

/** Values that are code, not secrets: `getPassword(user)`, `os.environ["PW"]`, `this.password`. */
function isCodeLike(value: string): boolean {
  return /^[\w.$]+[[(]/.test(value) || /^(?:process\.env|os\.environ|env)\b/.test(value) || DOTTED_NAME.test(value);
}
/** A property path such as `forge.pbe.generatePkcs12Key` or `config.auth.token2`: code, not a key. */
const DOTTED_NAME = /^[A-Za-z_$][\w$]*!?(?:\??\.[A-Za-z_$][\w$]*!?)+$/;

/**
 * An unquoted value in prose loses trailing sentence punctuation (`password: hunter22.` →
 * `hunter22`) and closing brackets it did not open (`{password: hunter22}` → `hunter22`).
 */
function trimUnquoted(value: string): string {
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{', '>': '<' };
  let v = value;
  for (;;) {
    const last = v[v.length - 1];
    if (last && '.,;:!?'.includes(last)) v = v.slice(0, -1);
    else if (last && pairs[last] && !v.includes(pairs[last])) v = v.slice(0, -1);
    else return v;
  }
}

// ---------------------------------------------------------------------------------------------
// The rules, in priority order (first listed wins where matches overlap).
// ---------------------------------------------------------------------------------------------

const PRIVATE_KEY_HEADER = String.raw`-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----`;
const PRIVATE_KEY_HEADER_RE = new RegExp(`^${PRIVATE_KEY_HEADER}`, 'i');
const NL = String.raw`(?:[ \t]|\r?\n|\\r|\\n)`;

const RULES: readonly Rule[] = [
  // gitleaks:private-key — `(?i)-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S-]{64,}?KEY(?: BLOCK)?-----`
  {
    kind: 'private-key',
    source: 'gitleaks:private-key',
    // (the body is bounded to 64 KiB so that many unterminated headers cannot make this quadratic)
    regex: new RegExp(String.raw`${PRIVATE_KEY_HEADER}[\s\S]{64,65536}?KEY(?: BLOCK)?-----`, 'gi'),
    keywords: ['-----begin'],
  },
  // baton: a private key block cut off before its END line (a truncated paste still leaks the
  // key): the header and the base64 / header lines that follow it (at least 64 characters).
  {
    kind: 'private-key',
    source: 'baton (unterminated gitleaks:private-key)',
    regex: new RegExp(
      String.raw`${PRIVATE_KEY_HEADER}${NL}*(?:(?:[A-Za-z0-9+/=]{16,}|[A-Za-z-]{2,30}:[^\r\n\\]*)${NL}*)+`,
      'gi',
    ),
    keywords: ['-----begin'],
    allow: secret => (secret.replace(PRIVATE_KEY_HEADER_RE, '').match(/[A-Za-z0-9+/=]{16,}/g) ?? []).join('').length < 64,
  },
  // gitleaks:jwt — `\b(ey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9\/\\_-]{17,}\.(?:[a-zA-Z0-9\/\\_-]{10,}={0,2})?)…`, entropy 3
  {
    kind: 'jwt',
    source: 'gitleaks:jwt',
    regex: /\b(ey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9/\\_-]{17,}\.(?:[a-zA-Z0-9/\\_-]{10,}={0,2})?)(?![\w/\\=-])/dg,
    groups: [1],
    keywords: ['ey'],
    entropy: 3,
  },
  // gitleaks:1password-service-account-token — `ops_eyJ[a-zA-Z0-9+/]{250,}={0,3}`, entropy 4
  {
    kind: 'onepassword-token',
    source: 'gitleaks:1password-service-account-token',
    regex: /ops_eyJ[a-zA-Z0-9+/]{250,}={0,3}/g,
    keywords: ['ops_'],
    entropy: 4,
  },
  // gitleaks:aws-access-token — `\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b`, entropy 3, allow `.+EXAMPLE$`
  {
    kind: 'aws-access-key-id',
    source: 'gitleaks:aws-access-token',
    regex: /\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b/dg,
    groups: [1],
    keywords: ['a3t', 'akia', 'asia', 'abia', 'acca'],
    entropy: 3,
    allow: secret => /.+EXAMPLE$/.test(secret),
  },
  // gitleaks:aws-amazon-bedrock-api-key-long-lived — `\b(ABSK[A-Za-z0-9+/]{109,269}={0,2})…`, entropy 3
  {
    kind: 'aws-bedrock-api-key',
    source: 'gitleaks:aws-amazon-bedrock-api-key-long-lived',
    regex: /\b(ABSK[A-Za-z0-9+/]{109,269}={0,2})(?![A-Za-z0-9+/=])/dg,
    groups: [1],
    keywords: ['absk'],
    entropy: 3,
  },
  // gitleaks:github-fine-grained-pat — `github_pat_\w{82}`, entropy 3
  { kind: 'github-token', source: 'gitleaks:github-fine-grained-pat', regex: /github_pat_\w{82}/g, keywords: ['github_pat_'], entropy: 3, extend: true },
  // gitleaks:github-pat / github-oauth / github-app-token / github-refresh-token —
  // `ghp_[0-9a-zA-Z]{36}`, `gho_…`, `(?:ghu|ghs)_…`, `ghr_…`, entropy 3
  { kind: 'github-token', source: 'gitleaks:github-pat|github-oauth|github-app-token|github-refresh-token', regex: /gh[pousr]_[0-9a-zA-Z]{36}/g, keywords: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'], entropy: 3, extend: true },
  // gitleaks:gitlab-pat-routable — `\bglpat-[0-9a-zA-Z_-]{27,300}\.[0-9a-z]{2}[0-9a-z]{7}\b`, entropy 4
  { kind: 'gitlab-token', source: 'gitleaks:gitlab-pat-routable', regex: /\bglpat-[0-9a-zA-Z_-]{27,300}\.[0-9a-z]{2}[0-9a-z]{7}\b/g, keywords: ['glpat-'], entropy: 4, extend: true },
  // gitleaks:gitlab-pat — `glpat-[\w-]{20}`, entropy 3
  { kind: 'gitlab-token', source: 'gitleaks:gitlab-pat', regex: /glpat-[\w-]{20}/g, keywords: ['glpat-'], entropy: 3, extend: true },
  // gitleaks:gitlab-ptt — `glptt-[0-9a-f]{40}`, entropy 3
  { kind: 'gitlab-token', source: 'gitleaks:gitlab-ptt', regex: /glptt-[0-9a-f]{40}/g, keywords: ['glptt-'], entropy: 3, extend: true },
  // gitleaks:gitlab-rrt — `GR1348941[\w-]{20}`, entropy 3
  { kind: 'gitlab-token', source: 'gitleaks:gitlab-rrt', regex: /GR1348941[\w-]{20}/g, keywords: ['gr1348941'], entropy: 3, extend: true },
  // gitleaks:gitlab-deploy-token, gitlab-runner-authentication-token, gitlab-feed-token,
  // gitlab-scim-token — `gldt-[0-9a-zA-Z_\-]{20}`, `glrt-…`, `glft-…`, `glsoat-…`, entropy 3
  { kind: 'gitlab-token', source: 'gitleaks:gitlab-deploy-token|gitlab-runner-authentication-token|gitlab-feed-token|gitlab-scim-token', regex: /(?:gldt|glrt|glft|glsoat)-[0-9a-zA-Z_-]{20}/g, keywords: ['gldt-', 'glrt-', 'glft-', 'glsoat-'], entropy: 3, extend: true },
  // gitleaks:gitlab-oauth-app-secret — `gloas-[0-9a-zA-Z_\-]{64}`, entropy 3
  { kind: 'gitlab-token', source: 'gitleaks:gitlab-oauth-app-secret', regex: /gloas-[0-9a-zA-Z_-]{64}/g, keywords: ['gloas-'], entropy: 3, extend: true },
  // gitleaks:gitlab-cicd-job-token — `glcbt-[0-9a-zA-Z]{1,5}_[0-9a-zA-Z_-]{20}`, entropy 3
  { kind: 'gitlab-token', source: 'gitleaks:gitlab-cicd-job-token', regex: /glcbt-[0-9a-zA-Z]{1,5}_[0-9a-zA-Z_-]{20}/g, keywords: ['glcbt-'], entropy: 3, extend: true },
  // gitleaks:slack-webhook-url — `(?:https?://)?hooks.slack.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,56}`
  {
    kind: 'slack-webhook',
    source: 'gitleaks:slack-webhook-url',
    regex: /(?:https?:\/\/)?hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9+/]{43,56}/g,
    keywords: ['hooks.slack.com'],
    extend: true,
  },
  // gitleaks:slack-config-access-token — `(?i)xoxe.xox[bp]-\d-[A-Z0-9]{163,166}`, entropy 2
  { kind: 'slack-token', source: 'gitleaks:slack-config-access-token', regex: /xoxe.xox[bp]-\d-[A-Z0-9]{163,166}/gi, keywords: ['xoxe.xoxb-', 'xoxe.xoxp-'], entropy: 2, extend: true },
  // gitleaks:slack-config-refresh-token — `(?i)xoxe-\d-[A-Z0-9]{146}`, entropy 2
  { kind: 'slack-token', source: 'gitleaks:slack-config-refresh-token', regex: /xoxe-\d-[A-Z0-9]{146}/gi, keywords: ['xoxe-'], entropy: 2, extend: true },
  // gitleaks:slack-bot-token — `xoxb-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*`, entropy 3
  { kind: 'slack-token', source: 'gitleaks:slack-bot-token', regex: /xoxb-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*/g, keywords: ['xoxb'], entropy: 3, extend: true },
  // gitleaks:slack-user-token — `xox[pe](?:-[0-9]{10,13}){3}-[a-zA-Z0-9-]{28,34}`, entropy 2
  { kind: 'slack-token', source: 'gitleaks:slack-user-token', regex: /xox[pe](?:-[0-9]{10,13}){3}-[a-zA-Z0-9-]{28,34}/g, keywords: ['xoxp-', 'xoxe-'], entropy: 2, extend: true },
  // gitleaks:slack-app-token — `(?i)xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+`, entropy 2
  { kind: 'slack-token', source: 'gitleaks:slack-app-token', regex: /xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+/gi, keywords: ['xapp'], entropy: 2, extend: true },
  // gitleaks:slack-legacy-bot-token — `xoxb-[0-9]{8,14}-[a-zA-Z0-9]{18,26}`, entropy 2
  { kind: 'slack-token', source: 'gitleaks:slack-legacy-bot-token', regex: /xoxb-[0-9]{8,14}-[a-zA-Z0-9]{18,26}/g, keywords: ['xoxb'], entropy: 2, extend: true },
  // gitleaks:slack-legacy-token — `xox[os]-\d+-\d+-\d+-[a-fA-F\d]+`, entropy 2
  { kind: 'slack-token', source: 'gitleaks:slack-legacy-token', regex: /xox[os]-\d+-\d+-\d+-[a-fA-F\d]+/g, keywords: ['xoxo', 'xoxs'], entropy: 2, extend: true },
  // gitleaks:slack-legacy-workspace-token — `xox[ar]-(?:\d-)?[0-9a-zA-Z]{8,48}`, entropy 2
  { kind: 'slack-token', source: 'gitleaks:slack-legacy-workspace-token', regex: /xox[ar]-(?:\d-)?[0-9a-zA-Z]{8,48}/g, keywords: ['xoxa', 'xoxr'], entropy: 2, extend: true },
  // gitleaks:microsoft-teams-webhook
  {
    kind: 'microsoft-teams-webhook',
    source: 'gitleaks:microsoft-teams-webhook',
    regex: /https:\/\/[a-z0-9]+\.webhook\.office\.com\/webhookb2\/[a-z0-9]{8}-(?:[a-z0-9]{4}-){3}[a-z0-9]{12}@[a-z0-9]{8}-(?:[a-z0-9]{4}-){3}[a-z0-9]{12}\/IncomingWebhook\/[a-z0-9]{32}\/[a-z0-9]{8}-(?:[a-z0-9]{4}-){3}[a-z0-9]{12}/g,
    keywords: ['webhook.office.com'],
    extend: true,
  },
  // gitleaks:anthropic-api-key / anthropic-admin-api-key —
  // `\b(sk-ant-api03-[a-zA-Z0-9_\-]{93}AA)…`, `\b(sk-ant-admin01-[a-zA-Z0-9_\-]{93}AA)…`
  { kind: 'anthropic-api-key', source: 'gitleaks:anthropic-api-key|anthropic-admin-api-key', regex: /\bsk-ant-(?:api03|admin01)-[a-zA-Z0-9_-]{93}AA/g, keywords: ['sk-ant-'], extend: true },
  // gitleaks:openai-api-key — `\b(sk-(?:proj|svcacct|admin)-(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})T3BlbkFJ(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})\b|sk-[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20})…`, entropy 3
  {
    kind: 'openai-api-key',
    source: 'gitleaks:openai-api-key',
    regex: /\b(?:sk-(?:proj|svcacct|admin)-(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})T3BlbkFJ(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})|sk-[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20})/g,
    keywords: ['t3blbkfj'],
    entropy: 3,
    extend: true,
  },
  // gitleaks:perplexity-api-key — `\b(pplx-[a-zA-Z0-9]{48})…`, entropy 4
  { kind: 'perplexity-api-key', source: 'gitleaks:perplexity-api-key', regex: /\bpplx-[a-zA-Z0-9]{48}/g, keywords: ['pplx-'], entropy: 4, extend: true },
  // gitleaks:huggingface-access-token / huggingface-organization-api-token —
  // `\b(hf_(?i:[a-z]{34}))…`, `\b(api_org_(?i:[a-z]{34}))…`, entropy 2
  { kind: 'huggingface-token', source: 'gitleaks:huggingface-access-token|huggingface-organization-api-token', regex: /\b(?:hf|api_org)_[a-zA-Z]{34}/g, keywords: ['hf_', 'api_org_'], entropy: 2, extend: true },
  // gitleaks:gcp-api-key — `\b(AIza[\w-]{35})…`, entropy 4
  { kind: 'google-api-key', source: 'gitleaks:gcp-api-key', regex: /\bAIza[\w-]{35}/g, keywords: ['aiza'], entropy: 4, extend: true },
  // gitleaks:stripe-access-token — `\b((?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99})…`, entropy 2
  { kind: 'stripe-key', source: 'gitleaks:stripe-access-token', regex: /\b(?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99}/g, keywords: ['sk_test', 'sk_live', 'sk_prod', 'rk_test', 'rk_live', 'rk_prod'], entropy: 2, extend: true },
  // gitleaks:npm-access-token — `(?i)\b(npm_[a-z0-9]{36})…`, entropy 2
  { kind: 'npm-token', source: 'gitleaks:npm-access-token', regex: /\bnpm_[a-z0-9]{36}/gi, keywords: ['npm_'], entropy: 2, extend: true },
  // gitleaks:pypi-upload-token — `pypi-AgEIcHlwaS5vcmc[\w-]{50,1000}`, entropy 3
  { kind: 'pypi-token', source: 'gitleaks:pypi-upload-token', regex: /pypi-AgEIcHlwaS5vcmc[\w-]{50,1000}/g, keywords: ['pypi-ageichlwas5vcmc'], entropy: 3, extend: true },
  // gitleaks:rubygems-api-token — `\b(rubygems_[a-f0-9]{48})…`, entropy 2
  { kind: 'rubygems-token', source: 'gitleaks:rubygems-api-token', regex: /\brubygems_[a-f0-9]{48}/g, keywords: ['rubygems_'], entropy: 2, extend: true },
  // gitleaks:sendgrid-api-token — `\b(SG\.(?i)[a-z0-9=_\-\.]{66})…`, entropy 2
  { kind: 'sendgrid-api-key', source: 'gitleaks:sendgrid-api-token', regex: /\bSG\.[a-zA-Z0-9=_\-.]{66}/g, keywords: ['sg.'], entropy: 2, extend: true },
  // gitleaks:digitalocean-pat / digitalocean-access-token / digitalocean-refresh-token —
  // `\b(dop_v1_[a-f0-9]{64})…`, `\b(doo_v1_…)`, `(?i)\b(dor_v1_…)`, entropy 3
  { kind: 'digitalocean-token', source: 'gitleaks:digitalocean-pat|digitalocean-access-token|digitalocean-refresh-token', regex: /\bdo[opr]_v1_[a-f0-9]{64}/g, keywords: ['dop_v1_', 'doo_v1_', 'dor_v1_'], entropy: 3, extend: true },
  // gitleaks:shopify-access-token / -custom-access-token / -private-app-access-token / -shared-secret —
  // `shpat_[a-fA-F0-9]{32}`, `shpca_…`, `shppa_…`, `shpss_…`, entropy 2
  { kind: 'shopify-token', source: 'gitleaks:shopify-access-token|shopify-custom-access-token|shopify-private-app-access-token|shopify-shared-secret', regex: /shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}/g, keywords: ['shpat_', 'shpca_', 'shppa_', 'shpss_'], entropy: 2, extend: true },
  // gitleaks:databricks-api-token — `\b(dapi[a-f0-9]{32}(?:-\d)?)…`, entropy 3
  { kind: 'databricks-token', source: 'gitleaks:databricks-api-token', regex: /\bdapi[a-f0-9]{32}(?:-\d)?/g, keywords: ['dapi'], entropy: 3, extend: true },
  // gitleaks:postman-api-token — `\b(PMAK-(?i)[a-f0-9]{24}\-[a-f0-9]{34})…`, entropy 3
  { kind: 'postman-api-key', source: 'gitleaks:postman-api-token', regex: /\bPMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}/g, keywords: ['pmak-'], entropy: 3, extend: true },
  // gitleaks:linear-api-key — `lin_api_(?i)[a-z0-9]{40}`, entropy 2
  { kind: 'linear-api-key', source: 'gitleaks:linear-api-key', regex: /lin_api_[a-zA-Z0-9]{40}/g, keywords: ['lin_api_'], entropy: 2, extend: true },
  // gitleaks:doppler-api-token — `dp\.pt\.(?i)[a-z0-9]{43}`, entropy 2
  { kind: 'doppler-token', source: 'gitleaks:doppler-api-token', regex: /dp\.pt\.[a-zA-Z0-9]{43}/g, keywords: ['dp.pt.'], entropy: 2, extend: true },
  // gitleaks:vault-service-token (hvs. form; the legacy `s.` form is too ambiguous for prose) /
  // vault-batch-token — `\b(hvs\.[\w-]{90,120})…` entropy 3.5, `\b(hvb\.[\w-]{138,300})…` entropy 4
  { kind: 'vault-token', source: 'gitleaks:vault-service-token', regex: /\bhvs\.[\w-]{90,120}/g, keywords: ['hvs.'], entropy: 3.5, extend: true },
  { kind: 'vault-token', source: 'gitleaks:vault-batch-token', regex: /\bhvb\.[\w-]{138,300}/g, keywords: ['hvb.'], entropy: 4, extend: true },
  // gitleaks:sentry-user-token — `\b(sntryu_[a-f0-9]{64})…`, entropy 3.5
  { kind: 'sentry-token', source: 'gitleaks:sentry-user-token', regex: /\bsntryu_[a-f0-9]{64}/g, keywords: ['sntryu_'], entropy: 3.5, extend: true },
  // gitleaks:sentry-org-token, entropy 4.5
  {
    kind: 'sentry-token',
    source: 'gitleaks:sentry-org-token',
    regex: /\bsntrys_eyJpYXQiO[a-zA-Z0-9+/]{10,200}(?:LCJyZWdpb25fdXJs|InJlZ2lvbl91cmwi|cmVnaW9uX3VybCI6)[a-zA-Z0-9+/]{10,200}={0,2}_[a-zA-Z0-9+/]{43}(?![a-zA-Z0-9+/])/g,
    keywords: ['sntrys_eyjpyxqio'],
    entropy: 4.5,
  },
  // gitleaks:grafana-api-key / grafana-cloud-api-token / grafana-service-account-token —
  // `(?i)\b(eyJrIjoi[A-Za-z0-9]{70,400}={0,3})…`, `(?i)\b(glc_[A-Za-z0-9+/]{32,400}={0,3})…`,
  // `(?i)\b(glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})…`, entropy 3
  { kind: 'grafana-token', source: 'gitleaks:grafana-api-key', regex: /\beyJrIjoi[A-Za-z0-9]{70,400}={0,3}/gi, keywords: ['eyjrijoi'], entropy: 3, extend: true },
  { kind: 'grafana-token', source: 'gitleaks:grafana-cloud-api-token', regex: /\bglc_[A-Za-z0-9+/]{32,400}={0,3}/gi, keywords: ['glc_'], entropy: 3, extend: true },
  { kind: 'grafana-token', source: 'gitleaks:grafana-service-account-token', regex: /\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}/gi, keywords: ['glsa_'], entropy: 3, extend: true },
  // gitleaks:notion-api-token — `\b(ntn_[0-9]{11}[A-Za-z0-9]{32}[A-Za-z0-9]{3})…`, entropy 4
  { kind: 'notion-token', source: 'gitleaks:notion-api-token', regex: /\bntn_[0-9]{11}[A-Za-z0-9]{35}/g, keywords: ['ntn_'], entropy: 4, extend: true },
  // gitleaks:heroku-api-key-v2 — `\b((HRKU-AA[0-9a-zA-Z_-]{58}))…`, entropy 4
  { kind: 'heroku-api-key', source: 'gitleaks:heroku-api-key-v2', regex: /\bHRKU-AA[0-9a-zA-Z_-]{58}/g, keywords: ['hrku-aa'], entropy: 4, extend: true },
  // gitleaks:pulumi-api-token — `\b(pul-[a-f0-9]{40})…`, entropy 2
  { kind: 'pulumi-token', source: 'gitleaks:pulumi-api-token', regex: /\bpul-[a-f0-9]{40}/g, keywords: ['pul-'], entropy: 2, extend: true },
  // gitleaks:age-secret-key — `AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}`
  { kind: 'age-secret-key', source: 'gitleaks:age-secret-key', regex: /AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}/g, keywords: ['age-secret-key-1'] },
  // gitleaks:twilio-api-key — `SK[0-9a-fA-F]{32}`, entropy 3 (word boundaries added: inside a
  // longer hex or identifier run it is not a Twilio key)
  { kind: 'twilio-api-key', source: 'gitleaks:twilio-api-key', regex: /\bSK[0-9a-fA-F]{32}\b/g, keywords: ['sk'], entropy: 3 },
  // secretlint v10.2.2 secretlint-rule-npm (`_authToken=([^$].*)`): an .npmrc auth token of any
  // form (legacy UUID tokens included); here only token characters, at least 8, so that
  // `_authToken=${NPM_TOKEN}` and prose about the setting are kept.
  {
    kind: 'npm-token',
    source: 'secretlint:@secretlint/secretlint-rule-npm@10.2.2',
    regex: /_authToken\s*=\s*["']?([A-Za-z0-9_\-.+/=]{8,})/dg,
    groups: [1],
    keywords: ['_authtoken'],
  },
  // secretlint v10.2.2 secretlint-rule-basicauth, widened to every scheme and password alphabet:
  // `scheme://user:password@host` → only the password is redacted. The password runs to the
  // last `@` of the authority (`p@ss` in `postgres://u:p@ss@db/x`). The user may be empty
  // (`redis://:secret@host`).
  {
    kind: 'password-in-url',
    source: 'secretlint:@secretlint/secretlint-rule-basicauth@10.2.2 (all schemes)',
    regex: /\b[a-zA-Z][a-zA-Z0-9+.-]{1,30}:\/\/[^\s:@/?#"'<>`]{0,256}:([^\s/?#"'<>`]{1,256})@(?=[^\s@/?#"'<>`]*[A-Za-z0-9\]])/dg,
    groups: [1],
    keywords: ['://'],
    // any length: `postgres://u:pw@h/db` has a two-letter password (placeholders are kept)
    allow: secret => isPasswordPlaceholder(secret),
  },
  // gitleaks:curl-auth-user — `curl … -u user:password` / `--user=user:password`: the password.
  // gitleaks' allowlist (`user:changeme|changeit|pass|password|pwd|test|token|***|xxx`, `<user>:<pw>`,
  // `$VAR`, `$(cmd)`, `{{ }}`) plus entropy 2. Same line only.
  {
    kind: 'curl-user-password',
    source: 'gitleaks:curl-auth-user',
    regex: /\bcurl\b[^\r\n]{0,2000}?[ \t](?:-u|--user)(?:=|[ \t]{1,5})(["']?)[^\s:"']{1,256}:([^\s"']{3,256})\1(?=\s|$)/dg,
    groups: [2],
    keywords: ['curl'],
    entropy: 2,
    allow: secret => /^(?:change(?:it|me)|pass(?:word)?|pwd|test|token|\*+|x+)$/i.test(secret) || isPasswordPlaceholder(secret),
  },
  // gitleaks:curl-auth-header, generalized from curl command lines to any HTTP header text:
  // `Authorization: Basic|Bearer|Token|Api-Token <value>` and `X-…-Api-Key: <value>`,
  // `X-Auth-Token: <value>`, `Api-Key: <value>`. Entropy 2.75; names-only values are kept.
  {
    kind: 'authorization-header',
    source: 'gitleaks:curl-auth-header (any header)',
    regex: /\bAuthorization["']?[ \t]{0,20}[:=][ \t]{0,20}["']?(?:Basic[ \t]+([A-Za-z0-9+/]{8,}={0,3})|(?:Bearer|Token|Api-Token)[ \t]+([\w=~@.+/-]{8,}))|\b(?:X-(?:[A-Za-z]+-)*(?:Api-?)?|Api-)(?:Key|Token)["']?[ \t]{0,20}:[ \t]{0,20}["']?([\w=~@.+/-]{8,})/dgi,
    groups: [1, 2, 3],
    keywords: ['authorization', 'key', 'token'],
    entropy: 2.75,
    allow: secret => /^[a-zA-Z_.-]+$/.test(secret),
  },
  // secretlint v10.2.2 secretlint-rule-aws `AWSSecretAccessKey`:
  // `["']?(?:AWS|aws|Aws)?_?(?:SECRET|secret|Secret)_?(?:ACCESS|access|Access)_?(?:KEY|key|Key)["']?\s*(?::|=>|=)\s*["']?([A-Za-z0-9/\+=]{40})["']?\b`,
  // with the built-in example key allowed; the closing `["']?\b` is read as "not followed by a
  // key character" (secretlint's `\b` misses keys ending in `/`, `+` or `=`).
  {
    kind: 'aws-secret-access-key',
    source: 'secretlint:@secretlint/secretlint-rule-aws@10.2.2',
    regex: /["']?(?:AWS|aws|Aws)?_?(?:SECRET|secret|Secret)_?(?:ACCESS|access|Access)_?(?:KEY|key|Key)["']?\s*(?::|=>|=)\s*["']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/dg,
    groups: [1],
    keywords: ['secret'],
    allow: secret => secret === 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  },
  // baton: `password = value` / `"password": "value"` / `DB_PASS=value` (see the module doc).
  {
    kind: 'generic-password',
    source: 'baton (gitleaks:generic-api-key syntax)',
    regex: new RegExp(
      String.raw`(?:(?:${ci('passw')}(?:${ci('or')})?${ci('d')}|${ci('pwd')}|${ci('passphrase')})[\w.-]{0,20}|(?<![A-Za-z])${ci('pass')})` +
        String.raw`['"]?[ \t]{0,3}(?::=|=>|=|:)[ \t]{0,3}(?:(["'\x60])((?:(?!\1)[^\r\n]){1,200})\1|([^\s'"\x60,;]{1,200}))`,
      'dg',
    ),
    groups: [2, 3],
    keywords: ['pass', 'pwd'],
    refine: (secret, match) => (match[3] !== undefined ? trimUnquoted(secret) : secret),
    entropy: 2.5,
    allow: (secret, match) =>
      [...secret].length < 6 ||
      // unquoted code: `password:e}){super(…`, `checkPassword:()=>x`, `password && …`
      (match[3] !== undefined && /[(){}]|=>|&&|\|\|/.test(match[3])) ||
      /^[a-zA-Z_.-]+$/.test(secret) ||
      isPasswordPlaceholder(secret) ||
      isPasswordPlaceholder(match[2] ?? match[3]) ||
      isCodeLike(secret),
  },
  // baton: an assignment to a name that says it holds a secret, whatever the value's entropy
  // (a 16-digit hex key or a short token sits below `generic-api-key`'s threshold):
  // `SECRET_TOKEN=q8Zr2mKx7`, `STRIPE_KEY: 9f3a…`, `"apiKey": "…"`, `'client_secret' => '…'`.
  // The name is an environment-style upper-case name ending in `_KEY`, `_TOKEN`, `_SECRET`,
  // `_PASSWORD`, `_PASSWD`, `_PWD`, `_PASS` (or one of those words alone), or a quoted key in
  // camelCase / snake_case ending the same way (`apiKey`, `access_token`, `clientSecret`). Values
  // kept: placeholders and templates, prose (a quoted value with spaces), values under 6
  // characters, and, for key and token names, plain words (`"sortKey": "created_at"`).
  {
    kind: 'generic-api-key',
    source: 'baton (secret-named assignment)',
    regex: /(?:(["'])([A-Za-z][A-Za-z0-9_.-]{0,60})\1|(?<![\w.$-])([A-Z][A-Z0-9_]{0,60}))[ \t]{0,3}(?::=|=>|=|:)[ \t]{0,3}(?:(["'\x60])([^"'\x60\r\n]{1,200})\4|([A-Za-z0-9+/=_.~!@#%^&*-]{1,200}))/dg,
    groups: [5, 6],
    keywords: ['key', 'token', 'secret', 'pass', 'pwd'],
    refine: (secret, match) => (match[6] !== undefined ? trimUnquoted(secret) : secret),
    kindOf: match => (/pass|pwd/i.test(match[2] ?? match[3] ?? '') ? 'generic-password' : 'generic-api-key'),
    allow: (secret, match) => {
      const name = match[2] ?? match[3] ?? '';
      const upper = match[3] !== undefined;
      const named = upper
        ? /^(?:[A-Z0-9_]*_)?(?:API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|PWD|PASS)$/.test(name)
        : /^(?:api[_-]?key|apikey|token|secret|password|passwd|pwd)$/i.test(name) ||
          /(?:[a-z0-9](?:Key|Token|Secret|Password|Passwd|Pwd)|[_.-](?:key|token|secret|password|passwd|pwd|KEY|TOKEN|SECRET|PASSWORD))$/.test(name);
      if (!named) return true;
      if ([...secret].length < 6 || /\s/.test(secret)) return true;
      if (isPasswordPlaceholder(secret) || isCodeLike(secret) || /^(?:true|false|null|undefined|none)$/i.test(secret)) return true;
      if (/^(?:your|my|the|some|insert|enter|replace|put|example|sample|dummy|fake|test)[\w-]*$/i.test(secret)) return true;
      const passwordName = /pass|pwd/i.test(name);
      return !passwordName && /^[a-zA-Z_.-]+$/.test(secret);
    },
  },
  // gitleaks:generic-api-key, entropy 3.5:
  // `(?i)[\w.-]{0,50}?(?:access|auth|(?-i:[Aa]pi|API)|credential|creds|key|passw(?:or)?d|secret|token)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}([\w.=-]{10,150}|[a-z0-9][a-z0-9+/]{11,}={0,3})(?:[\x60'"\s;]|\\[nr]|$)`
  // (the `[\w.-]{0,50}?` prefix is found by looking back from the keyword; `,` also ends a value;
  // `\s` around the operator is `[ \t]`: one line).
  {
    kind: 'generic-api-key',
    source: 'gitleaks:generic-api-key',
    regex: new RegExp(
      String.raw`(?:${ci('access')}|${ci('auth')}|[Aa]pi|API|${ci('credential')}|${ci('creds')}|${ci('key')}|${ci('passw')}(?:${ci('or')})?${ci('d')}|${ci('secret')}|${ci('token')})` +
        String.raw`(?:[ \t\w.-]{0,20})[ \t'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'" \t=]{0,5}([\w.=-]{10,150}|[a-zA-Z0-9][a-zA-Z0-9+/]{11,}={0,3})(?=[\x60'"\s;,]|\\[nr]|$)`,
      'dg',
    ),
    groups: [1],
    keywords: ['access', 'api', 'auth', 'key', 'credential', 'creds', 'passwd', 'password', 'secret', 'token'],
    entropy: 3.5,
    kindOf: match => (/passw|pwd/i.test(match[0].slice(0, match[0].length - match[1].length)) ? 'generic-password' : 'generic-api-key'),
    allow: (secret, match, text) => {
      // names, property paths and assignments (`t.TwoKeyMap=void`) are code, not values
      if (/^[a-zA-Z_.-]+$/.test(secret) || DOTTED_NAME.test(secret) || /^[A-Za-z_$][\w$.]*=[A-Za-z_$]/.test(secret)) return true;
      const lower = secret.toLowerCase();
      if (GENERIC_STOPWORDS.some(word => lower.includes(word))) return true;
      // the whole match, with the identifier characters before the keyword (gitleaks' prefix)
      let start = match.index;
      while (start > 0 && match.index - start < 50 && /[\w.-]/.test(text[start - 1])) start--;
      const whole = text.slice(start, match.index + match[0].length);
      if (GENERIC_MATCH_ALLOW_I.test(whole) || GENERIC_MATCH_ALLOW_CS.test(whole)) return true;
      const lineStart = text.lastIndexOf('\n', match.index) + 1;
      let lineEnd = text.indexOf('\n', match.index + match[0].length);
      if (lineEnd < 0) lineEnd = text.length;
      const line = text.slice(lineStart, lineEnd);
      return GENERIC_LINE_ALLOW.some(re => re.test(line));
    },
  },
];

/** The kinds of secret this rule set reports (sorted), for documentation and tests. */
export const REDACTION_KINDS: readonly string[] = [...new Set(RULES.map(rule => rule.kind).concat('generic-password'))].sort();

interface Span {
  start: number;
  end: number;
  kind: string;
  priority: number;
}

function overlaps(spans: readonly { start: number; end: number }[], start: number, end: number): boolean {
  // spans is small in practice (secrets in one text); a linear scan keeps this simple
  for (const s of spans) if (start < s.end && s.start < end) return true;
  return false;
}

function protectedSpans(text: string): { start: number; end: number }[] {
  const spans: { start: number; end: number }[] = [];
  for (const m of text.matchAll(MARKER)) spans.push({ start: m.index!, end: m.index! + m[0].length });
  if (/data:image\//i.test(text)) {
    IMAGE_DATA_URL.lastIndex = 0;
    for (const m of text.matchAll(IMAGE_DATA_URL)) {
      const payloadStart = m.index! + m[0].length - m[1].length;
      spans.push({ start: payloadStart, end: m.index! + m[0].length });
    }
  }
  return spans;
}

/** One pass of every rule over `text`: the accepted, non-overlapping secret spans. */
function findSecrets(text: string): Span[] {
  const lower = text.toLowerCase();
  const guarded = protectedSpans(text);
  const candidates: Span[] = [];
  RULES.forEach((rule, priority) => {
    if (rule.keywords && !rule.keywords.some(k => lower.includes(k))) return;
    const re = rule.regex;
    re.lastIndex = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      let start = m.index;
      let end = m.index + m[0].length;
      let secret = m[0];
      if (rule.groups) {
        const g = rule.groups.find(i => m![i] !== undefined && m![i] !== '');
        if (g === undefined) continue;
        const idx = m.indices![g]!;
        [start, end] = idx;
        secret = m[g]!;
      }
      if (rule.refine) {
        secret = rule.refine(secret, m);
        end = start + secret.length;
        if (!secret) continue;
      }
      if (rule.allow?.(secret, m, text)) continue;
      if (rule.entropy !== undefined && shannonEntropy(secret) <= rule.entropy) continue;
      if (globallyAllowed(secret)) continue;
      if (rule.extend) while (end < text.length && TOKEN_CHAR.test(text[end])) end++;
      if (overlaps(guarded, start, end)) continue;
      candidates.push({ start, end, kind: rule.kindOf?.(m) ?? rule.kind, priority });
    }
  });
  candidates.sort((a, b) => a.priority - b.priority || a.start - b.start);
  const accepted: Span[] = [];
  for (const c of candidates) if (!overlaps(accepted, c.start, c.end)) accepted.push(c);
  return accepted.sort((a, b) => a.start - b.start);
}

/**
 * Replaces every secret in `text` by `[REDACTED:<kind>]` (see the module doc for the rule set,
 * its sources and versions). Synchronous, pure and idempotent.
 *
 * @param text any text: a chat message, a .env file, JSON, a shell command, a PEM block.
 * @returns the redacted text and, per kind, how many secrets were replaced (sorted by kind; empty
 *   when the text had none, and then `text` is returned unchanged).
 * @throws TypeError when `text` is not a string.
 */
export function redactSecrets(text: string): RedactionResult {
  if (typeof text !== 'string') throw new TypeError(`redactSecrets expects a string, got ${text === null ? 'null' : typeof text}`);
  const counts = new Map<string, number>();
  let current = text;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const spans = findSecrets(current);
    if (spans.length === 0) break;
    let out = '';
    let at = 0;
    for (const s of spans) {
      out += current.slice(at, s.start) + redactionMarker(s.kind);
      at = s.end;
      counts.set(s.kind, (counts.get(s.kind) ?? 0) + 1);
    }
    current = out + current.slice(at);
  }
  return { text: current, findings: toFindings(counts) };
}

function toFindings(counts: Map<string, number>): RedactionFinding[] {
  return [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([kind, count]) => ({ kind, count }));
}

/**
 * Redacts every string leaf of a JSON-like value (see {@link redactSecrets}): strings in arrays
 * and in plain objects, at any depth. Object keys are names and are kept as they are; numbers,
 * booleans, null and undefined are kept; other objects (Date, Map, class instances) are kept as
 * the same reference. The input is never modified: arrays and plain objects are copied (a cyclic
 * structure is copied with the same cycles).
 *
 * @returns the redacted copy and the findings of all its strings together, sorted by kind.
 */
export function redactDeep<T>(value: T): { value: T; findings: RedactionFinding[] } {
  const counts = new Map<string, number>();
  const copies = new Map<object, unknown>();
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const r = redactSecrets(v);
      for (const f of r.findings) counts.set(f.kind, (counts.get(f.kind) ?? 0) + f.count);
      return r.text;
    }
    if (v === null || typeof v !== 'object') return v;
    const seen = copies.get(v);
    if (seen !== undefined) return seen;
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      copies.set(v, out);
      for (const item of v) out.push(walk(item));
      return out;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return v;
    const out: Record<string, unknown> = proto === null ? Object.create(null) : {};
    copies.set(v, out);
    for (const key of Object.keys(v)) {
      // Keys are outside text too, and a value may be a secret only given its key (`{ "API_KEY": "3f9a…" }`).
      const k = walk(key) as string;
      const raw = (v as Record<string, unknown>)[key];
      let value = walk(raw);
      if (typeof raw === 'string' && value === raw) {
        const combo = redactSecrets(`${key}=${raw}`);
        if (combo.findings.length && combo.text.startsWith(`${key}=`)) {
          for (const f of combo.findings) counts.set(f.kind, (counts.get(f.kind) ?? 0) + f.count);
          value = combo.text.slice(key.length + 1);
        }
      }
      Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
  return { value: walk(value) as T, findings: toFindings(counts) };
}
