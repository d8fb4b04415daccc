// Options for jco's bundler (rolldown): the world's imports come from the host, not from a
// file, so the bundler must leave `photosync:` imports alone (jco does so itself for `wasi:`).
export default {
  external: [/^photosync:/],
};
