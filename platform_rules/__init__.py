"""Rules shared by the settings (components/settings) and the policy pack (policy/).

Standard library only, and importing neither side: the Pulumi program imports it as a top-level
package from the project root; the pack, which the engine starts in policy/, reaches it through
one path entry in policy/__main__.py. One table per rule, so the two can never disagree.
"""
