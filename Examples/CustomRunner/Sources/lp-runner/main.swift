import LpPooling
import RunnerCLI

// ConvLab's runner with Lp pooling built in: `lp-runner plugins --kind pooling` lists "lp".
RunnerCommand.main(plugins: [lpPooling])
