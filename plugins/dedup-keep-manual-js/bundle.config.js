// Rolldown options merged into jco's bundle: the world's own imports are provided by the host,
// not by a file, so the bundler leaves them alone (jco itself does this only for `wasi:`).
export default {
  external: [/^photosync:/],
};
