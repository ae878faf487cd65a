import ArgumentParser
struct Serve: ParsableCommand { func run() throws {} }
struct Demo: ParsableCommand { func run() throws {} }
