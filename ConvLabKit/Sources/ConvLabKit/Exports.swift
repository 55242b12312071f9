// A plugin imports ConvLabKit and nothing else: the engine, the data sets and the JSON values its
// declarations use come with it.
@_exported import ConvCore
@_exported import Datasets
@_exported import TextKit
