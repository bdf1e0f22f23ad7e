/**
 * What kind of source an ADD argument is, by BuildKit's rules: a URL only
 * when it starts with `http://` or `https://` exactly (the prefix test is
 * case-sensitive, as in BuildKit and the classic builder; `HTTP://x` is a
 * local path), a Git source by its scheme or a `.git` URL.
 */
export function isHttpSource(src: string): boolean {
  return src.startsWith('http://') || src.startsWith('https://');
}

export function isGitSource(src: string): boolean {
  return /^(git@|git:\/\/|ssh:\/\/)/.test(src) || (isHttpSource(src) && /\.git(#.*)?$/.test(src));
}
