/**
 * BuildKit's dispatch table: how each instruction's text after the flags
 * becomes the AST's `Next` values. Nothing is unquoted or expanded here;
 * that is the job of later layers.
 */
import { ASCII_BLANKS, isGoSpace, trimLeftGoSpace } from './chars.js';
import { quotedExcerpt } from './excerpt.js';

/** An instruction whose arguments BuildKit's parser rejects. */
export class ArgumentError extends Error {}

export interface ParsedArgs {
  args: string[];
  /** The args came from a JSON array. */
  json: boolean;
}

type LineParser = (rest: string, escape: string) => ParsedArgs;

const plain = (args: string[]): ParsedArgs => ({ args, json: false });

/** `rest` as one arg (USER, WORKDIR, STOPSIGNAL, MAINTAINER). */
const parseString: LineParser = (rest) => plain(rest === '' ? [] : [rest]);

/** One arg per `[\t\v\f\r ]`-separated word (FROM, EXPOSE). */
const parseWhitespaceDelimited: LineParser = (rest) => plain(rest === '' ? [] : rest.split(ASCII_BLANKS));

// Lone surrogates from `\ud800` escapes become U+FFFD, as Go's decoder does.
function wellFormed(s: string): string {
  return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * A JSON array of strings, or undefined when `rest` is not valid JSON (the
 * caller falls back to shell form). Valid JSON with a non-string element is
 * an error, not a fallback.
 */
export function parseJsonArray(rest: string): string[] | undefined {
  const text = trimLeftGoSpace(rest);
  if (!text.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  // Go cannot decode 1e400 into a float64: that is a decode error, so a fallback.
  if (value.some((v) => typeof v === 'number' && !Number.isFinite(v))) return undefined;
  if (!value.every((v): v is string => typeof v === 'string')) {
    throw new ArgumentError('when using JSON array syntax, arrays must be comprised of strings only');
  }
  return value.map(wellFormed);
}

/** JSON array, or else the whole rest as one arg (RUN, CMD, ENTRYPOINT, SHELL). */
const parseMaybeJson: LineParser = (rest) => {
  if (rest === '') return plain([]);
  const array = parseJsonArray(rest);
  return array ? { args: array, json: true } : plain([rest]);
};

/** JSON array, or else whitespace-separated words (ADD, COPY, VOLUME). */
const parseMaybeJsonToList: LineParser = (rest, escape) => {
  const array = parseJsonArray(rest);
  return array ? { args: array, json: true } : parseWhitespaceDelimited(rest, escape);
};

/** The type word (`CMD`, `NONE`...), then the RUN rules for the rest. */
const parseHealthcheck: LineParser = (rest, escape) => {
  let sep = 0;
  while (sep < rest.length && !isGoSpace(rest[sep] ?? '')) sep++;
  if (sep === 0) return plain([]);
  let next = sep;
  while (next < rest.length && isGoSpace(rest[next] ?? '')) next++;
  const command = parseMaybeJson(rest.slice(next), escape);
  return { args: [rest.slice(0, sep), ...command.args], json: command.json };
};

/**
 * Splits on unquoted whitespace, keeping quotes and escapes in the words
 * (they are removed later). An escape outside single quotes protects the
 * next character, quote or blank included.
 */
export function parseWords(rest: string, escape: string): string[] {
  const chars = Array.from(rest);
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let i = 0; i <= chars.length; i++) {
    let ch = chars[i] ?? '';
    const atEnd = i === chars.length;
    if (phase === 'spaces') {
      if (atEnd) break;
      if (isGoSpace(ch)) continue;
      phase = 'word';
    }
    if (atEnd) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isGoSpace(ch)) {
        phase = 'spaces';
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escape) {
        if (i + 1 === chars.length) continue;
        word += ch;
        ch = chars[++i] ?? '';
      }
    } else {
      if (ch === quote) phase = 'word';
      if (ch === escape && quote !== "'") {
        if (i + 1 === chars.length) {
          phase = 'word';
          continue;
        }
        word += ch;
        ch = chars[++i] ?? '';
      }
    }
    word += ch;
  }
  return words;
}

/**
 * ENV and LABEL: `name value...` (legacy: one pair, separator "") or
 * `name=value ...` (separator "="), as name, value, separator triples.
 */
function parseNameValue(keyword: string): LineParser {
  return (rest, escape) => {
    const words = parseWords(rest, escape);
    const first = words[0];
    if (first === undefined) return plain([]);
    if (!first.includes('=')) {
      const gap = ASCII_BLANKS.exec(rest);
      if (!gap) throw new ArgumentError(`${keyword} must have two arguments`);
      return plain([rest.slice(0, gap.index), rest.slice(gap.index + gap[0].length), '']);
    }
    const args: string[] = [];
    for (const word of words) {
      const eq = word.indexOf('=');
      if (eq < 0) {
        throw new ArgumentError(`Syntax error - can't find = in ${quotedExcerpt(word)}. Must be of the form: name=value`);
      }
      args.push(word.slice(0, eq), word.slice(eq + 1), '=');
    }
    return plain(args);
  };
}

/** ARG: the words as written (`name`, `name=value`). */
const parseNameOrNameValue: LineParser = (rest, escape) => plain(parseWords(rest, escape));

/** Unknown instructions keep one empty arg, as BuildKit's parseIgnore does. */
const parseIgnore: LineParser = () => plain(['']);

const DISPATCH: ReadonlyMap<string, LineParser> = new Map([
  ['add', parseMaybeJsonToList],
  ['arg', parseNameOrNameValue],
  ['cmd', parseMaybeJson],
  ['copy', parseMaybeJsonToList],
  ['entrypoint', parseMaybeJson],
  ['env', parseNameValue('ENV')],
  ['expose', parseWhitespaceDelimited],
  ['from', parseWhitespaceDelimited],
  ['healthcheck', parseHealthcheck],
  ['label', parseNameValue('LABEL')],
  ['maintainer', parseString],
  ['run', parseMaybeJson],
  ['shell', parseMaybeJson],
  ['stopsignal', parseString],
  ['user', parseString],
  ['volume', parseMaybeJsonToList],
  ['workdir', parseString],
]);

/** Parses the args of every instruction except ONBUILD, which the node builder handles. */
export function parseInstructionArgs(keyword: string, rest: string, escape: string): ParsedArgs {
  return (DISPATCH.get(keyword) ?? parseIgnore)(rest, escape);
}
