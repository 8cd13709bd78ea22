"""Images: the one image engine. The project's dev and prod images and the serving
image are built here; runtimes run them and targets name them, and both import this
package, never the other way round."""
