import RunnerCLI

// The runner with the built-in plugins only; a runner of your own adds its plugins here.
RunnerCommand.main(plugins: [])
