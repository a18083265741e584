"""encrypted-platform components: typed settings, pure renderers and the ComponentResources
that wire them into Pulumi resources."""
